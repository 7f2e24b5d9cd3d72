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

/// Writes `path + ".tmp"` and renames it onto `path` in commit(), so a crash or an exception never
/// leaves a half-written file under the final name. Destroying it uncommitted removes the .tmp.
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
  std::ofstream stream_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace sit::io::detail
