#pragma once
// A minimal ZIP reader and writer for the containers this library meets: torch.save archives
// (stored members, zip64 past 4 GiB) and .npz files (stored or deflated).
//
// The reader takes every size and offset from the central directory and checks it against the file
// before use; member data is read on demand, never the whole archive. The writer stores members
// uncompressed with their data aligned to 64 bytes, as torch.save does, and writes atomically.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sit::io {

namespace detail {
class InputFile;
class AtomicFile;
}  // namespace detail

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;         // uncompressed
  uint64_t data_offset = 0;  // first byte of the member's (compressed) data in the file
};

class ZipReader {
 public:
  /// Parses the central directory; throws "<path>: <problem>" for anything malformed.
  explicit ZipReader(const std::string& path);
  ~ZipReader();

  const std::string& path() const;
  /// Members in central directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  /// nullptr when absent.
  const ZipEntry* find(const std::string& name) const;

  /// The member's uncompressed bytes, CRC-checked.
  std::vector<uint8_t> read(const ZipEntry& entry);
  /// Same, into dst, which holds entry.size bytes.
  void read_into(const ZipEntry& entry, void* dst);

 private:
  std::unique_ptr<detail::InputFile> file_;
  std::vector<ZipEntry> entries_;
};

/// WhenNeeded: zip64 fields only for sizes and offsets past 32 bits (as torch.save does);
/// Always: on every member and the end record, which lets a small archive take the zip64 path.
enum class Zip64 { WhenNeeded, Always };

class ZipWriter {
 public:
  /// Writes to `path + ".tmp"`; finish() renames it onto `path`. Without finish() nothing appears.
  explicit ZipWriter(const std::string& path, Zip64 zip64 = Zip64::WhenNeeded);
  ~ZipWriter();

  /// Appends a stored member whose data starts on a 64-byte boundary.
  void add(const std::string& name, const void* data, uint64_t size);
  /// Writes the central directory (with zip64 records when needed) and commits the file.
  void finish();

 private:
  void write_end_of_central_directory(uint64_t directory_offset, uint64_t directory_size);

  std::unique_ptr<detail::AtomicFile> file_;
  Zip64 zip64_;
  std::string central_directory_;  // grows by one entry per add()
  uint64_t member_count_ = 0;
};

}  // namespace sit::io
