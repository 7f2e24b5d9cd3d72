#pragma once
// Bounds-checked little-endian reads from an in-memory byte range. Every failure throws
// std::runtime_error("<source>: <problem>") so a caller never reads past the end.

#include <cstddef>
#include <cstdint>
#include <string>

namespace sit::io::detail {

/// Throws std::runtime_error("<source>: <problem>").
[[noreturn]] void fail(const std::string& source, const std::string& problem);

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string source);

  size_t position() const { return position_; }
  size_t remaining() const { return size_ - position_; }
  const std::string& source() const { return source_; }

  /// `what` names the field in the error message: "truncated <what> at offset N".
  uint8_t u8(const char* what);
  uint16_t u16(const char* what);
  uint32_t u32(const char* what);
  uint64_t u64(const char* what);
  /// n bytes from the current position, advanced past.
  const uint8_t* take(uint64_t n, const char* what);
  std::string string(uint64_t n, const char* what);
  void skip(uint64_t n, const char* what) { take(n, what); }

  [[noreturn]] void fail(const std::string& problem) const;

 private:
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
  std::string source_;
};

/// Little-endian encodings, for writers.
void append_u16(std::string& out, uint16_t value);
void append_u32(std::string& out, uint32_t value);
void append_u64(std::string& out, uint64_t value);

}  // namespace sit::io::detail
