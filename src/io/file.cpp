#include "file.h"

#include <cstdio>
#include <filesystem>

#include "byte_reader.h"

namespace sit::io::detail {

std::vector<uint8_t> read_file(const std::string& path) {
  InputFile file(path);
  return file.read(0, file.size(), "file contents");
}

InputFile::InputFile(const std::string& path) : path_(path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) fail(path, "is a directory, not a file");
  stream_.open(path, std::ios::binary);
  if (!stream_) fail(path, "cannot open for reading");
  stream_.seekg(0, std::ios::end);
  size_ = static_cast<uint64_t>(stream_.tellg());
}

void InputFile::check_range(uint64_t offset, uint64_t n, const std::string& what) const {
  if (offset > size_ || n > size_ - offset) {
    fail(path_, what + " [" + std::to_string(offset) + ", " + std::to_string(offset + n) +
                    ") lies outside the file (" + std::to_string(size_) + " bytes)");
  }
}

void InputFile::read(uint64_t offset, void* dst, uint64_t n, const std::string& what) {
  check_range(offset, n, what);
  stream_.clear();
  stream_.seekg(static_cast<std::streamoff>(offset));
  stream_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  if (!stream_) fail(path_, "read error in " + what);
}

std::vector<uint8_t> InputFile::read(uint64_t offset, uint64_t n, const std::string& what) {
  check_range(offset, n, what);
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  read(offset, bytes.data(), n, what);
  return bytes;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temporary_path_(path_ + ".tmp") {
  stream_.open(temporary_path_, std::ios::binary | std::ios::trunc);
  if (!stream_) fail(temporary_path_, "cannot open for writing");
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  stream_.close();
  std::remove(temporary_path_.c_str());
}

void AtomicFile::write(const void* data, uint64_t n) {
  stream_.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!stream_) fail(temporary_path_, "write error (disk full?)");
  size_ += n;
}

void AtomicFile::commit() {
  stream_.close();
  if (!stream_) fail(temporary_path_, "write error while closing");
  std::error_code error;
  std::filesystem::rename(temporary_path_, path_, error);
  if (error) fail(path_, "cannot rename " + temporary_path_ + " onto it: " + error.message());
  committed_ = true;
}

}  // namespace sit::io::detail
