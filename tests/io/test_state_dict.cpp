// io::read_state_dict/load_state_dict/state_dict on train.py-style checkpoints, DDP prefixes,
// safetensors, and the errors a mismatched checkpoint gives.

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <sit/error.h>
#include <sit/io/state_dict.h>
#include <sit/io/torch_load.h>

#include "io_test_util.h"

#include "support/catch_torch.h"

namespace io = sit::io;
using sit::test::fixture;
using sit::test::scratch;

namespace {

// make_fixtures.py's TinyModel: Linear(3, 4), LayerNorm(4), BatchNorm1d(4).
torch::nn::Sequential tiny_model() {
  return torch::nn::Sequential(torch::nn::Linear(3, 4), torch::nn::LayerNorm(torch::nn::LayerNormOptions({4})),
                               torch::nn::BatchNorm1d(4));
}

// make_fixtures.py's formula_state_dict: entry k is sign * (arange(numel) / 16 + k), ints k (+100 for ema).
void check_formula(const io::StateDict& state_dict, double sign) {
  const std::vector<std::string> keys = {"0.weight", "0.bias", "1.weight", "1.bias", "2.weight",
                                         "2.bias", "2.running_mean", "2.running_var", "2.num_batches_tracked"};
  REQUIRE(state_dict.keys() == keys);
  for (size_t k = 0; k < keys.size(); ++k) {
    INFO(keys[k]);
    const torch::Tensor& tensor = state_dict[keys[k]];
    if (tensor.is_floating_point()) {
      const torch::Tensor expected = sign * (torch::arange(tensor.numel(), torch::kFloat32).reshape(tensor.sizes()) / 16 + static_cast<double>(k));
      CHECK(torch::equal(tensor, expected));
    } else {
      CHECK(tensor.item<int64_t>() == static_cast<int64_t>(k) + (sign < 0 ? 100 : 0));
    }
  }
}

}  // namespace

TEST_CASE("read_state_dict picks ema, or the entry asked for, from a train.py checkpoint", "[io][state_dict]") {
  check_formula(sit::io::read_state_dict(fixture("train_checkpoint.pt")), -1);
  check_formula(sit::io::read_state_dict(fixture("train_checkpoint.pt"), sit::io::ReadOptions().entry("model")), 1);
  CHECK_THROWS_WITH(sit::io::read_state_dict(fixture("train_checkpoint.pt"), sit::io::ReadOptions().entry("nope")),
                    Catch::Contains("train_checkpoint.pt: has no entry 'nope'; entries present: model, ema, opt, args"));
  CHECK_THROWS_WITH(sit::io::read_state_dict(fixture("train_checkpoint.pt"), sit::io::ReadOptions().entry("args")),
                    Catch::Contains("entry 'args' is a object, not a state dict"));
  CHECK_THROWS_WITH(sit::io::read_state_dict(fixture("train_checkpoint.pt"), sit::io::ReadOptions().entry("opt")),
                    Catch::Contains("state dict entry 'state' is a dict, not a tensor"));
}

TEST_CASE("read_state_dict reads bare, DDP-prefixed and safetensors state dicts", "[io][state_dict]") {
  check_formula(sit::io::read_state_dict(fixture("ddp_state_dict.pt")), 1);
  const io::StateDict official = sit::io::read_state_dict(fixture("ckpt.pt"));
  CHECK(official.size() == sit::io::torch_load(fixture("ckpt.pt")).to_dict().items.size());
  CHECK(official.contains("x_embedder.proj.weight"));
  const io::StateDict vae = sit::io::read_state_dict(fixture("vae_subset.safetensors"));
  const io::StateDict vae_pt = sit::io::read_state_dict(fixture("vae_subset.pt"));
  REQUIRE(vae.size() == vae_pt.size());
  for (const auto& item : vae_pt) CHECK(torch::equal(vae[item.key()], item.value()));
}

TEST_CASE("read_state_dict names files that are not checkpoints", "[io][state_dict]") {
  // An application tells a bad file from a bad setting by type, and gets the file.
  try {
    sit::io::read_state_dict(fixture("npy_f4.npy"));
    FAIL("no error");
  } catch (const sit::FileError& e) {
    CHECK(e.path() == fixture("npy_f4.npy"));
  }
  CHECK_THROWS_AS(sit::io::read_state_dict(sit::test::truncated_copy(fixture("ckpt.pt"), 100, "cut.pt")), sit::FileError);
  CHECK_THROWS_WITH(sit::io::read_state_dict(fixture("npy_f4.npy")),
                    Catch::Equals(fixture("npy_f4.npy") + ": not a checkpoint (neither a torch.save zip archive nor safetensors)"));
  CHECK_THROWS_WITH(sit::io::read_state_dict(sit::test::truncated_copy(fixture("ckpt.pt"), 0, "empty.pt")),
                    Catch::Contains("empty.pt: empty file, not a checkpoint"));
  CHECK_THROWS_WITH(sit::io::read_state_dict(fixture("legacy.pt")), Catch::Contains("legacy torch.save format is not supported"));
  CHECK_THROWS_WITH(sit::io::read_state_dict(fixture("tensors.pt")), Catch::Contains("has no entry 'model'"));
}

TEST_CASE("load_state_dict copies values, converting dtype, and state_dict reads them back", "[io][state_dict]") {
  torch::nn::Sequential model = tiny_model();
  sit::io::load_state_dict(*model, sit::io::read_state_dict(fixture("train_checkpoint.pt")), "train_checkpoint.pt");
  check_formula(sit::io::state_dict(*model), -1);

  io::StateDict doubled;
  for (const auto& item : sit::io::state_dict(*model)) {
    doubled.insert(item.key(), item.value().is_floating_point() ? item.value().to(torch::kFloat64) * 2 : item.value());
  }
  sit::io::load_state_dict(*model, doubled, "doubled");
  CHECK(model->parameters()[0].scalar_type() == torch::kFloat32);
  CHECK(torch::equal(sit::io::state_dict(*model)["0.weight"], doubled["0.weight"].to(torch::kFloat32)));
}

TEST_CASE("load_state_dict names missing, unexpected and mis-shaped keys", "[io][state_dict]") {
  torch::nn::Sequential model = tiny_model();
  const io::StateDict good = sit::io::state_dict(*model);

  io::StateDict missing = good;
  missing.erase("1.bias");
  CHECK_THROWS_WITH(sit::io::load_state_dict(*model, missing, "ckpt"),
                    Catch::Equals("ckpt: state dict does not match the model: missing keys: 1.bias"));

  io::StateDict unexpected = good;
  unexpected.insert("3.weight", torch::zeros({1}));
  CHECK_THROWS_WITH(sit::io::load_state_dict(*model, unexpected, "ckpt"),
                    Catch::Equals("ckpt: state dict does not match the model: unexpected keys: 3.weight"));

  io::StateDict reshaped;
  for (const auto& item : good) reshaped.insert(item.key(), item.key() == "0.weight" ? torch::zeros({4, 2}) : item.value());
  CHECK_THROWS_WITH(sit::io::load_state_dict(*model, reshaped, "ckpt"),
                    Catch::Equals("ckpt: shape mismatch for '0.weight': checkpoint has [4, 2], model expects [4, 3]"));
}

TEST_CASE("save_state_dict writes torch.save and safetensors files read_state_dict reads back", "[io][state_dict]") {
  torch::nn::Sequential model = tiny_model();
  sit::io::load_state_dict(*model, sit::io::read_state_dict(fixture("train_checkpoint.pt")), "train_checkpoint.pt");
  for (const char* name : {"saved_state.pt", "saved_state.safetensors"}) {
    INFO(name);
    sit::io::save_state_dict(sit::io::state_dict(*model), scratch(name));
    io::StateDict back = sit::io::read_state_dict(scratch(name));
    torch::nn::Sequential other = tiny_model();
    sit::io::load_state_dict(*other, back, name);
    const io::StateDict expected = sit::io::state_dict(*model);
    for (const auto& item : expected) CHECK(torch::equal(sit::io::state_dict(*other)[item.key()], item.value()));
  }
  CHECK(sit::io::torch_load(scratch("saved_state.pt")).to_dict().ordered);
}
