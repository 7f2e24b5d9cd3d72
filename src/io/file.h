#pragma once
// Whole-file, random-access and atomic file I/O shared by the readers and writers.

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace sit::io::detail {

/// The whole file; throws "<path>: cannot open".
std::vector<uint8_t> read_file(const std::string& path);

/// Random-access reads, each checked against the file size.
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  /// Reads [offset, offset + n) into dst; throws "<path>: <what> ... lies outside the file".
  void read(uint64_t offset, void* dst, uint64_t n, const std::string& what);
  std::vector<uint8_t> read(uint64_t offset, uint64_t n, const std::string& what);
  /// Throws unless [offset, offset + n) lies inside the file.
  void check_range(uint64_t offset, uint64_t n, const std::string& what) const;

 private:
  std::string path_;
  std::ifstream stream_;
  uint64_t size_ = 0;
};

/// Writes `path + ".tmp"` and, in commit(), syncs it to disk, renames it onto `path` and syncs the
/// directory, so a crash, a kill or an exception never leaves a half-written file under the final
/// name, and a committed file survives a power cut. Destroying it uncommitted removes the .tmp; a
/// .tmp left by a killed process is truncated by the next writer of that name. Errors (a full disk,
/// EFBIG past RLIMIT_FSIZE) throw "<path>: write error in <path>.tmp: <reason>".
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, uint64_t n);
  void write(const std::string& bytes) { write(bytes.data(), bytes.size()); }
  /// Bytes written so far.
  uint64_t size() const { return size_; }
  void commit();

 private:
  std::string path_;
  std::string temporary_path_;
  static constexpr size_t kBufferBytes = 1 << 20;
  void write_through(const char* data, uint64_t n);

  int fd_ = -1;
  std::vector<char> buffer_;  // small writes (zip headers) gathered into few system calls
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace sit::io::detail
