#include "io/byte_reader.h"
#include <sit/error.h>

#include <stdexcept>

namespace sit::io::detail {

void fail(const std::string& source, const std::string& problem) {
  throw FileError(source, problem);
}

ByteReader::ByteReader(const uint8_t* data, size_t size, std::string source)
    : data_(data), size_(size), source_(std::move(source)) {}

void ByteReader::fail(const std::string& problem) const { detail::fail(source_, problem); }

const uint8_t* ByteReader::take(uint64_t n, const char* what) {
  if (n > remaining()) {
    fail("truncated " + std::string(what) + " at offset " + std::to_string(position_) + " (needs " +
         std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left)");
  }
  const uint8_t* start = data_ + position_;
  position_ += static_cast<size_t>(n);
  return start;
}

uint8_t ByteReader::u8(const char* what) { return *take(1, what); }

uint16_t ByteReader::u16(const char* what) {
  const uint8_t* p = take(2, what);
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t ByteReader::u32(const char* what) {
  const uint8_t* p = take(4, what);
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

uint64_t ByteReader::u64(const char* what) {
  const uint64_t low = u32(what);
  const uint64_t high = u32(what);
  return low | (high << 32);
}

std::string ByteReader::string(uint64_t n, const char* what) {
  const uint8_t* p = take(n, what);
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

void append_u16(std::string& out, uint16_t value) {
  for (int shift = 0; shift < 16; shift += 8) out.push_back(static_cast<char>(value >> shift));
}

void append_u32(std::string& out, uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(value >> shift));
}

void append_u64(std::string& out, uint64_t value) {
  for (int shift = 0; shift < 64; shift += 8) out.push_back(static_cast<char>(value >> shift));
}

}  // namespace sit::io::detail
