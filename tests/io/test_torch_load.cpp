// torch_load/torch_save against files written by Python's torch.save (tests/data/io/make_fixtures.py),
// the official-code checkpoint ckpt.pt, and Python's torch.load reading our output.

#include <cstdlib>
#include <random>

#include <nlohmann/json.hpp>

#include "io/pickle.h"
#include <sit/io/torch_load.h>
#include "io/zip_archive.h"

#include "io_test_util.h"

#include "support/catch_torch.h"
#include "support/machine.h"
#include "support/skip.h"

using namespace sit::io;
using sit::test::require_same;
using sit::test::entry;
using sit::test::fixture;
using sit::test::scratch;

namespace {

// A torch.save-shaped archive around `data_pkl`, for malformed cases Python would never write.
std::string write_archive(const std::string& name, const std::string& data_pkl, const std::string& record) {
  ZipWriter archive(scratch(name));
  archive.add("archive/data.pkl", data_pkl.data(), data_pkl.size());
  archive.add("archive/data/0", record.data(), record.size());
  archive.add("archive/version", "3\n", 2);
  archive.finish();
  return scratch(name);
}

// A pickled float tensor whose storage id claims `numel` elements in record `key`.
std::string tensor_pickle(const torch::Tensor& tensor, int64_t numel, const std::string& key) {
  return pickle(Value::tensor(tensor), [&](const torch::Tensor&) {
    return Value::tuple({Value::string("storage"), Value::global("torch", "FloatStorage"), Value::string(key),
                         Value::string("cpu"), Value::integer(numel)});
  });
}

}  // namespace

TEST_CASE("torch_load reads every dtype and view layout torch.save writes", "[io][torch_load]") {
  const Value root = torch_load(fixture("tensors.pt"));
  REQUIRE(root.to_dict().ordered);
  for (const auto& [key, expected] : sit::test::tensor_values()) {
    INFO(key);
    require_same(entry(root, key).to_tensor(), expected);
  }
  const torch::Tensor f32 = entry(root, "f32").to_tensor();
  const torch::Tensor transposed = entry(root, "transposed").to_tensor();
  const torch::Tensor sliced = entry(root, "sliced").to_tensor();
  CHECK(transposed.strides() == torch::IntArrayRef({1, 6}));
  CHECK(transposed.is_alias_of(f32));
  CHECK(sliced.storage_offset() == 8);
  CHECK(sliced.is_alias_of(f32));
  CHECK(entry(root, "expanded").to_tensor().strides() == torch::IntArrayRef({1, 0}));
}

TEST_CASE("torch_load keeps the non-tensor values of a checkpoint", "[io][torch_load]") {
  const Value root = torch_load(fixture("tensors.pt"));
  CHECK(entry(root, "int").to_int() == 7);
  CHECK(entry(root, "big_int").to_int() == int64_t{1} << 40);
  CHECK(entry(root, "negative").to_int() == -5);
  CHECK(entry(root, "float").to_double() == 0.25);
  CHECK(entry(root, "str").to_string() == "h\xc3\xa9llo");
  CHECK(entry(root, "none").is_none());
  CHECK(entry(root, "true").to_bool());
  CHECK(entry(root, "list").items()[2].to_string() == "x");
  CHECK(entry(root, "tuple").items()[1].items()[1].to_int() == 3);
  CHECK(entry(entry(entry(root, "nested"), "a"), "b").to_int() == 1);
  const Object& namespace_ = entry(root, "namespace").to_object();
  CHECK(namespace_.qualified_name() == "argparse.Namespace");
  CHECK(namespace_.state.to_dict().find("model")->to_string() == "SiT-XL/2");
  CHECK(namespace_.state.to_dict().find("lr")->to_double() == 1e-4);
  CHECK(entry(root, "numpy_scalar").to_object().qualified_name() == "numpy.core.multiarray.scalar");
}

TEST_CASE("torch_load reads the official SiT checkpoint exactly", "[io][torch_load]") {
  std::ifstream stream(fixture("ckpt_reference.json"));
  const auto reference = nlohmann::ordered_json::parse(stream);
  const Value root = torch_load(fixture("ckpt.pt"));
  const Dict& state_dict = root.to_dict();
  REQUIRE(state_dict.ordered);
  REQUIRE(state_dict.items.size() == reference.size());
  size_t index = 0;
  for (const auto& item : reference.items()) {
    INFO(item.key());
    REQUIRE(state_dict.items[index++].first.to_string() == item.key());
    const torch::Tensor tensor = state_dict.find(item.key())->to_tensor();
    REQUIRE(tensor.sizes().vec() == item.value()["shape"].get<std::vector<int64_t>>());
    REQUIRE(std::string(c10::toString(tensor.scalar_type())) == "Float");
    const torch::Tensor flat = tensor.to(torch::kFloat64).flatten();
    const double sum = item.value()["sum"].get<double>();
    const double weighted_sum = item.value()["weighted_sum"].get<double>();
    CHECK(flat.sum().item<double>() == Approx(sum).margin(1e-9));
    CHECK((flat * torch::arange(flat.numel(), torch::kFloat64)).sum().item<double>() ==
          Approx(weighted_sum).margin(1e-7));
    CHECK(flat[0].item<double>() == item.value()["first"].get<double>());
    CHECK(flat[-1].item<double>() == item.value()["last"].get<double>());
  }
}

TEST_CASE("torch_save writes what torch_load and Python's torch.load read back", "[io][torch_load]") {
  const torch::Tensor w = torch::arange(6, torch::kFloat32).reshape({2, 3}) / 4;
  Value model = Value::dict(/*ordered=*/true);
  const std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"w", w},
      {"h", torch::arange(4, torch::kFloat16) / 2},
      {"b", torch::arange(3, torch::kBFloat16) - 1},
      {"d", torch::arange(3, torch::kFloat64) / 3},
      {"i", torch::arange(3, torch::kInt64) * (int64_t{1} << 40)},
      {"n", torch::arange(3, torch::kInt32) - 1},
      {"u", torch::arange(3, torch::kInt32).to(torch::kUInt8) + 250},
      {"t", torch::tensor({true, false})},
      {"s", torch::tensor(2.5f)},
      {"e", torch::zeros({0, 2})},
      {"v", torch::arange(12, torch::kFloat32).reshape({3, 4}).t()},
  };
  for (const auto& [key, tensor] : tensors) model.to_dict().set(key, Value::tensor(tensor));
  Value ema = Value::dict(/*ordered=*/true);
  ema.to_dict().set("w", Value::tensor(-w));
  Value args = Value::object("argparse", "Namespace");
  args.to_object().state = Value::dict();
  args.to_object().state.to_dict().set("model", Value::string("SiT-XL/2"));
  args.to_object().state.to_dict().set("image_size", Value::integer(256));
  Value checkpoint = Value::dict();
  Dict& entries = checkpoint.to_dict();
  entries.set("model", model);
  entries.set("ema", ema);
  entries.set("step", Value::integer(10));
  entries.set("lr", Value::floating(0.5));
  entries.set("name", Value::string("SiT"));
  entries.set("flags", Value::list({Value::boolean(true), Value()}));
  entries.set("pair", Value::tuple({Value::integer(1), Value::integer(2)}));
  entries.set("args", args);

  const std::string path = scratch("saved.pt");
  torch_save(checkpoint, path);
  const ZipReader archive(path);  // not a temporary: the loop reads its entries
  for (const ZipEntry& entry : archive.entries()) CHECK(entry.data_offset % 64 == 0);
  const Value back = torch_load(path);
  for (const auto& [key, tensor] : tensors) {
    INFO(key);
    require_same(entry(entry(back, "model"), key).to_tensor(), tensor);
  }
  require_same(entry(entry(back, "ema"), "w").to_tensor(), -w);
  CHECK(entry(back, "args").to_object().state.to_dict().find("image_size")->to_int() == 256);

  if (!sit::test::python_torch_available()) SIT_SKIP("Debian's python3-torch is not installed");
  const std::string command = "/usr/bin/python3 " + fixture("check_torch_save.py") + " " + path;
  CHECK(std::system(command.c_str()) == 0);
}

TEST_CASE("torch_load rejects damaged and foreign files with the reason", "[io][torch_load]") {
  const std::string good = fixture("train_checkpoint.pt");
  const size_t size = sit::test::read_bytes(good).size();
  CHECK_THROWS_WITH(torch_load(fixture("legacy.pt")),
                    Catch::Contains("legacy.pt: legacy torch.save format is not supported; re-save with "
                                    "torch.save(..., _use_new_zipfile_serialization=True)"));
  CHECK_THROWS_WITH(torch_load(sit::test::truncated_copy(good, size / 2, "cut.pt")),
                    Catch::Contains("cut.pt: not a zip archive (no end of central directory record)"));
  CHECK_THROWS_WITH(torch_load(sit::test::truncated_copy(good, 0, "empty.pt")), Catch::Contains("empty.pt: not a zip archive"));
  CHECK_THROWS_WITH(torch_load(fixture("arrays.npz")), Catch::Contains("has no <folder>/data.pkl record"));
  CHECK_THROWS_WITH(torch_load(fixture("missing.pt")), Catch::Contains("missing.pt: cannot open"));

  // A flipped byte inside a tensor record, and inside the pickle: both fail their CRC.
  const ZipEntry record = *ZipReader(good).find("train_checkpoint/data/0");
  CHECK_THROWS_WITH(torch_load(sit::test::flipped_copy(good, record.data_offset + 1, "flipped.pt")),
                    Catch::Contains("member 'train_checkpoint/data/0' is corrupt (CRC-32 mismatch)"));
  const ZipEntry pickle_entry = *ZipReader(good).find("train_checkpoint/data.pkl");
  CHECK_THROWS_WITH(torch_load(sit::test::flipped_copy(good, pickle_entry.data_offset + 9, "flipped_pkl.pt")),
                    Catch::Contains("CRC-32 mismatch"));

  std::mt19937 generator(7);
  std::vector<uint8_t> noise(4096);
  for (uint8_t& byte : noise) byte = static_cast<uint8_t>(generator());
  sit::test::write_bytes(scratch("noise.pt"), noise);
  CHECK_THROWS_WITH(torch_load(scratch("noise.pt")), Catch::Contains("noise.pt: not a zip archive"));
}

TEST_CASE("torch_load checks every storage against its record and every view against its storage", "[io][torch_load]") {
  const std::string eight_bytes(8, '\0');
  CHECK_THROWS_WITH(torch_load(write_archive("numel.pt", tensor_pickle(torch::zeros({2}), 100, "0"), eight_bytes)),
                    Catch::Contains("storage record 'archive/data/0' has 8 bytes, expected 100 x 4"));
  CHECK_THROWS_WITH(torch_load(write_archive("key.pt", tensor_pickle(torch::zeros({2}), 2, "7"), eight_bytes)),
                    Catch::Contains("missing storage record 'archive/data/7'"));
  CHECK_THROWS_WITH(torch_load(write_archive("view.pt", tensor_pickle(torch::zeros({3}), 2, "0"), eight_bytes)),
                    Catch::Contains("tensor view (offset 0, last element 2) exceeds its storage of 2 elements"));
  const Value fine = torch_load(write_archive("fine.pt", tensor_pickle(torch::zeros({2}), 2, "0"), eight_bytes));
  CHECK(torch::equal(fine.to_tensor(), torch::zeros({2})));
}
