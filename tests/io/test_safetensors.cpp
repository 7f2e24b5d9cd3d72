// read_safetensors/write_safetensors against files written from the format description by
// tests/data/io/make_fixtures.py, a round trip, and corrupted headers and offsets.

#include <random>

#include <sit/io/safetensors.h>
#include <sit/io/torch_load.h>

#include "io_test_util.h"

#include "support/catch_torch.h"

using namespace sit::io;
using sit::test::require_same;
using sit::test::fixture;
using sit::test::scratch;

namespace {

// A file made of an 8-byte length, `header` and `data`, for malformed cases.
std::string write_raw(const std::string& name, const std::string& header, const std::string& data) {
  std::vector<uint8_t> bytes(8);
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  sit::test::write_bytes(scratch(name), bytes);
  return scratch(name);
}

}  // namespace

TEST_CASE("read_safetensors reads every supported dtype", "[io][safetensors]") {
  const Safetensors file = read_safetensors(fixture("dtypes.safetensors"));
  CHECK((file.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"note", "dtypes"}}));
  const auto expected = sit::test::tensor_values();
  REQUIRE(file.tensors.size() == expected.size());
  for (const auto& [key, tensor] : expected) {
    INFO(key);
    require_same(file.tensors[key], tensor);
  }
  std::vector<std::string> sorted = file.tensors.keys();
  std::sort(sorted.begin(), sorted.end());
  CHECK(file.tensors.keys() == sorted);  // header order, which the writer sorted
}

TEST_CASE("read_safetensors matches torch.save of the same VAE tensors", "[io][safetensors]") {
  const Safetensors file = read_safetensors(fixture("vae_subset.safetensors"));
  const Value reference = torch_load(fixture("vae_subset.pt"));
  REQUIRE(file.tensors.size() == reference.to_dict().items.size());
  REQUIRE(file.tensors.size() > 10);
  for (const auto& [key, value] : reference.to_dict().items) {
    INFO(key.to_string());
    require_same(file.tensors[key.to_string()], value.to_tensor());
  }
}

TEST_CASE("write_safetensors then read_safetensors round-trips, header sorted and padded", "[io][safetensors]") {
  torch::OrderedDict<std::string, torch::Tensor> tensors;
  for (const auto& [key, tensor] : sit::test::tensor_values()) tensors.insert("z_" + key, tensor);
  tensors.insert("a_first", torch::ones({3}));
  const std::string path = scratch("roundtrip.safetensors");
  write_safetensors(path, tensors, {{"format", "pt"}});

  const std::vector<uint8_t> bytes = sit::test::read_bytes(path);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  CHECK(header_size % 8 == 0);
  const std::string metadata_first = R"({"__metadata__":{"format":"pt"},"a_first":)";
  CHECK(std::string(bytes.begin() + 8, bytes.begin() + 8 + metadata_first.size()) == metadata_first);
  CHECK(bytes[8 + header_size - 1] == ' ');  // padded

  const Safetensors file = read_safetensors(path);
  CHECK(file.metadata.at("format") == "pt");
  CHECK(file.tensors.keys().front() == "a_first");
  for (const auto& item : tensors) require_same(file.tensors[item.key()], item.value().contiguous());
}

TEST_CASE("read_safetensors rejects damaged headers and offsets with the reason", "[io][safetensors]") {
  const std::string good = fixture("dtypes.safetensors");
  const size_t size = sit::test::read_bytes(good).size();
  CHECK_THROWS_WITH(read_safetensors(sit::test::truncated_copy(good, 0, "empty.safetensors")),
                    Catch::Contains("empty.safetensors: 0 bytes, too short for safetensors"));
  CHECK_THROWS_WITH(read_safetensors(sit::test::truncated_copy(good, size - 10, "cut.safetensors")),
                    Catch::Contains("data section has"));
  CHECK_THROWS_WITH(read_safetensors(sit::test::flipped_copy(good, 5, "length.safetensors")),
                    Catch::Contains("exceeds the file"));
  CHECK_THROWS_WITH(read_safetensors(sit::test::flipped_copy(good, 8, "json.safetensors")),
                    Catch::Contains("header is not valid JSON"));

  std::mt19937 generator(11);
  std::vector<uint8_t> noise(4096);
  for (uint8_t& byte : noise) byte = static_cast<uint8_t>(generator());
  sit::test::write_bytes(scratch("noise.safetensors"), noise);
  CHECK_THROWS_WITH(read_safetensors(scratch("noise.safetensors")), Catch::Contains("exceeds the file"));

  const std::string four(4, '\0');
  CHECK_THROWS_WITH(read_safetensors(write_raw("span.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four)),
                    Catch::Contains("tensor 'a': data_offsets [0, 4) do not span its 8 bytes"));
  CHECK_THROWS_WITH(read_safetensors(write_raw("overlap.st",
                                               R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                               four)),
                    Catch::Contains("data starts at 0, expected 4"));
  CHECK_THROWS_WITH(read_safetensors(write_raw("beyond.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", four)),
                    Catch::Contains("data section has 4 bytes but the tensors cover 8"));
  CHECK_THROWS_WITH(read_safetensors(write_raw("dtype.st", R"({"a":{"dtype":"C64","shape":[],"data_offsets":[0,8]}})", four)),
                    Catch::Contains("tensor 'a' has unsupported dtype 'C64'"));
  CHECK_THROWS_WITH(read_safetensors(write_raw("fields.st", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four)),
                    Catch::Contains("shape holds a non-integer or negative"));
  CHECK_THROWS_WITH(read_safetensors(write_raw("entry.st", R"({"a":{"dtype":"F32"}})", "")),
                    Catch::Contains("needs \"dtype\", \"shape\" and two \"data_offsets\""));
  CHECK_THROWS_WITH(read_safetensors(write_raw("meta.st", R"({"__metadata__":{"k":1}})", "")),
                    Catch::Contains("__metadata__ value of 'k' is not a string"));
  CHECK_THROWS_WITH(read_safetensors(write_raw("bool.st", R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", "\x07")),
                    Catch::Contains("bool tensor 'a' holds a byte other than 0 or 1"));
}
