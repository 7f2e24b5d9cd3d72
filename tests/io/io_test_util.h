#pragma once
// Helpers shared by the io tests: fixture paths, scratch files and byte-level file surgery.

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <sit/io/value.h>

#include "support/catch_torch.h"
#include "support/files.h"

namespace sit::test {

/// Same dtype, shape and values, bit for bit.
inline void require_same(const torch::Tensor& actual, const torch::Tensor& expected) {
  REQUIRE(actual.scalar_type() == expected.scalar_type());
  REQUIRE(actual.sizes() == expected.sizes());
  REQUIRE(torch::equal(actual, expected));
}

/// dict[key], which must exist.
inline const sit::io::Value& entry(const sit::io::Value& dict, const std::string& key) {
  const sit::io::Value* value = dict.to_dict().find(key);
  REQUIRE(value != nullptr);
  return *value;
}

inline std::string fixture(const std::string& name) { return std::string(SIT_TEST_DATA_DIR) + "/io/" + name; }

/// A path in the test program's own scratch folder (removed at exit): concurrent runs never share files.
inline std::string scratch(const std::string& name) {
  static const TempDir folder;
  return folder.file(name);
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(stream), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// Copy of `source` cut to its first `size` bytes.
inline std::string truncated_copy(const std::string& source, size_t size, const std::string& name) {
  std::vector<uint8_t> bytes = read_bytes(source);
  bytes.resize(size);
  write_bytes(scratch(name), bytes);
  return scratch(name);
}

/// Copy of `source` with the byte at `offset` inverted.
inline std::string flipped_copy(const std::string& source, size_t offset, const std::string& name) {
  std::vector<uint8_t> bytes = read_bytes(source);
  bytes.at(offset) = static_cast<uint8_t>(~bytes.at(offset));
  write_bytes(scratch(name), bytes);
  return scratch(name);
}

/// Position of the first occurrence of `needle` in the file, or npos.
inline size_t find_in_file(const std::string& path, const std::string& needle) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  const std::string text(bytes.begin(), bytes.end());
  return text.find(needle);
}

/// make_fixtures.py's tensor_values() (the tensors of tensors.pt and dtypes.safetensors), rebuilt here.
inline std::vector<std::pair<std::string, torch::Tensor>> tensor_values() {
  const torch::Tensor base = torch::arange(24, torch::kFloat32).reshape({4, 6}) / 8 - 1;
  return {
      {"f32", base},
      {"transposed", base.t()},
      {"sliced", base.slice(0, 1).slice(1, 2, 5)},
      {"expanded", torch::arange(3, torch::kFloat32).reshape({3, 1}).expand({3, 4})},
      {"f16", torch::arange(6, torch::kFloat16) / 4},
      {"bf16", torch::arange(6, torch::kBFloat16) / 4 - 1},
      {"f64", torch::arange(5, torch::kFloat64) / 3},
      {"i64", torch::arange(4, torch::kInt64) * -(int64_t{1} << 40)},
      {"i32", torch::arange(4, torch::kInt32) - 2},
      {"i16", torch::arange(3, torch::kInt16) * 1000},
      {"i8", torch::arange(3, torch::kInt8) - 100},
      {"u8", torch::arange(250, 256, torch::kInt32).to(torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(3.5f)},
      {"empty", torch::zeros({0, 3})},
      {"parameter", torch::arange(3, torch::kFloat32)},
  };
}

}  // namespace sit::test
