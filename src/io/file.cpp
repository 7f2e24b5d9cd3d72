#include "io/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "io/byte_reader.h"

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

namespace {

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// Makes a rename in `directory` durable: fsync of the directory itself.
void sync_directory(const std::string& directory, const std::string& path) {
  int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(path, system_error("cannot open its directory " + directory + " to sync it"));
  int result = ::fsync(fd);
  int error = errno;
  ::close(fd);
  errno = error;
  if (result != 0) fail(path, system_error("cannot sync its directory " + directory));
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temporary_path_(path_ + ".tmp") {
  // O_TRUNC: a temporary left by a killed writer is overwritten, never appended to.
  fd_ = ::open(temporary_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_, system_error("cannot open " + temporary_path_ + " for writing"));
  buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(temporary_path_.c_str());
}

void AtomicFile::write_through(const char* data, uint64_t n) {
  while (n > 0) {
    ssize_t written = ::write(fd_, data, static_cast<size_t>(std::min<uint64_t>(n, 1u << 30)));
    if (written < 0 && errno == EINTR) continue;
    // EFBIG (over RLIMIT_FSIZE; sit-train ignores SIGXFSZ), ENOSPC, EIO: the temporary goes with
    // this object, the final name keeps what it held.
    if (written < 0) fail(path_, system_error("write error in " + temporary_path_));
    data += written;
    n -= static_cast<uint64_t>(written);
  }
}

void AtomicFile::write(const void* data, uint64_t n) {
  const char* bytes = static_cast<const char*>(data);
  if (buffer_.size() + n > kBufferBytes) {
    write_through(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  if (n >= kBufferBytes) {
    write_through(bytes, n);
  } else {
    buffer_.insert(buffer_.end(), bytes, bytes + n);
  }
  size_ += n;
}

void AtomicFile::commit() {
  write_through(buffer_.data(), buffer_.size());
  buffer_.clear();
  // The data reach the disk before the rename does, so after a crash the final name holds either
  // the old file or the whole new one.
  if (::fsync(fd_) != 0) fail(path_, system_error("cannot sync " + temporary_path_));
  int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) fail(path_, system_error("write error while closing " + temporary_path_));
  if (::rename(temporary_path_.c_str(), path_.c_str()) != 0) {
    fail(path_, system_error("cannot rename " + temporary_path_ + " onto it"));
  }
  committed_ = true;
  auto directory = std::filesystem::path(path_).parent_path().string();
  sync_directory(directory.empty() ? "." : directory, path_);
}

}  // namespace sit::io::detail
