// The SiT forward against the official models.py outputs stored in the fixtures, each model
// loaded straight from its ckpt.pt (torch.save of the state_dict). Tolerance: relative L2 1e-5.
#include "support/catch_torch.h"
#include <sit/nn/sit_from_state_dict.h>
#include <sit/transport/guidance.h>


#include "support/files.h"
#include "support/fixture_case.h"

using namespace sit::test;

namespace {

// The cases whose folders hold forward.npy; several share a model, each is checked.
const std::vector<std::string> kForwardCases = sampler_case_names();

}  // namespace

TEST_CASE("forward and forward_full match the official model on every fixture", "[nn][parity]") {
  torch::NoGradGuard no_grad;
  for (const auto& name : kForwardCases) {
    INFO("case " << name);
    auto dir = fixture_dir(name);
    auto json = read_case_json(dir);
    auto model = sit::nn::load_sit(dir + "/ckpt.pt", sit::nn::ArchitectureHints().num_heads(
                                                         json["model"]["num_heads"].get<int64_t>()));
    const auto& m = json["model"];
    CHECK(model->options.input_size() == m["input_size"].get<int64_t>());
    CHECK(model->options.patch_size() == m["patch_size"].get<int64_t>());
    CHECK(model->options.depth() == m["depth"].get<int64_t>());
    CHECK(model->options.learn_sigma() == m["learn_sigma"].get<bool>());
    CHECK(model->options.num_classes() == m["num_classes"].get<int64_t>());

    auto x = read_case_npy(dir, "noise");
    auto y = read_case_npy(dir, "labels");
    auto t = torch::tensor(json["forward_t"].get<std::vector<float>>());
    CHECK(relative_l2(model->forward(x, t, y), read_case_npy(dir, "forward")) < 1e-5);
    if (m["learn_sigma"].get<bool>()) {
      CHECK(relative_l2(model->forward_full(x, t, y), read_case_npy(dir, "forward_full")) < 1e-5);
    }
  }
}

TEST_CASE("the doubled guidance is the official forward_with_cfg: batch [z; z], labels [y; null]",
          "[nn][parity]") {
  torch::NoGradGuard no_grad;
  auto dir = fixture_dir("ode_linear_velocity_heun2_cfg4");
  auto json = read_case_json(dir);
  auto model = sit::nn::load_sit(dir + "/ckpt.pt", sit::nn::ArchitectureHints().num_heads(4));
  auto z = read_case_npy(dir, "noise");
  auto y = read_case_npy(dir, "labels");
  auto t = torch::tensor(json["forward_t"].get<std::vector<float>>());
  sit::transport::LabelledForward forward = [&](const torch::Tensor& x, const torch::Tensor& tt,
                                                const torch::Tensor& labels) { return model->forward(x, tt, labels); };
  auto guided = sit::transport::classifier_free_guidance_doubled(
      forward, y,
      sit::transport::GuidanceOptions(json["guidance"]["cfg_scale"].get<double>(),
                                      json["guidance"]["null_class"].get<int64_t>()));
  auto out = guided(torch::cat({z, z}), torch::cat({t, t}));
  CHECK(relative_l2(out, read_case_npy(dir, "forward_cfg")) < 1e-5);
}

TEST_CASE("the fixture checkpoints hold exactly the official keys and pos_embed", "[nn][parity]") {
  auto dir = fixture_dir("ode_linear_velocity_euler");
  auto sd = sit::io::read_state_dict(dir + "/ckpt.pt");
  sit::nn::SiT fresh(sit::nn::infer_sit_options(sd, sit::nn::ArchitectureHints().num_heads(4)));
  auto ours = fresh->named_parameters();
  CHECK(ours.size() == sd.size());
  for (const auto& item : sd) {
    INFO("key " << item.key());
    REQUIRE(ours.contains(item.key()));
    CHECK(ours[item.key()].sizes() == item.value().sizes());
  }
  // pos_embed was not redrawn in the fixtures: it is the official sin-cos table.
  CHECK((fresh->pos_embed - sd["pos_embed"]).abs().max().item<double>() < 1e-6);
}

TEST_CASE("a checkpoint with a wrong-shaped tensor is a one-line error naming key and shapes",
          "[nn][parity]") {
  auto sd = sit::io::read_state_dict(fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt");
  sit::io::StateDict broken;
  for (const auto& item : sd) {
    auto value = item.value();
    if (item.key() == "blocks.1.attn.qkv.weight") value = value.slice(1, 0, 48).contiguous();
    broken.insert(item.key(), value);
  }
  TempDir tmp;
  const auto path = tmp.file("wrong_shape.pt");
  sit::io::save_state_dict(broken, path);
  try {
    sit::nn::load_sit(path, sit::nn::ArchitectureHints().num_heads(4));
    FAIL("loading a wrong-shaped checkpoint did not throw");
  } catch (const std::runtime_error& e) {
    std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("blocks.1.attn.qkv.weight") &&
                            Catch::Contains("[192, 48]") && Catch::Contains("[192, 64]"));
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("infer_sit_options checks the shapes that size the model before it is built", "[nn][parity]") {
  auto sd = sit::io::read_state_dict(fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt");
  const auto with = [&](const std::string& key, torch::Tensor value) {
    sit::io::StateDict changed;
    for (const auto& item : sd) changed.insert(item.key(), item.key() == key ? value : item.value());
    return changed;
  };
  const auto hints = sit::nn::ArchitectureHints().num_heads(4);
  // A patch size of 0 divided by zero.
  CHECK_THROWS_WITH(sit::nn::infer_sit_options(with("x_embedder.proj.weight", torch::zeros({64, 4, 0, 0})), hints, "c.pt"),
                    Catch::Equals("c.pt: x_embedder.proj.weight has shape [64, 4, 0, 0], expected (hidden size, "
                                  "channels, patch, patch), all positive"));
  // Empty block weights under a large hidden size built 12 D^2 floats a block before any check.
  CHECK_THROWS_WITH(sit::nn::infer_sit_options(with("blocks.0.attn.qkv.weight", torch::zeros({0, 0})), hints, "c.pt"),
                    Catch::Equals("c.pt: 'blocks.0.attn.qkv.weight' has shape [0, 0], the hidden size of "
                                  "x_embedder.proj.weight implies [192, 64]"));
  // An expanded view claims a hidden size of 4096 over 16 stored values.
  CHECK_THROWS_WITH(sit::nn::infer_sit_options(with("x_embedder.proj.weight", torch::zeros({1, 4, 2, 2}).expand({4096, 4, 2, 2})), hints, "c.pt"),
                    Catch::Equals("c.pt: 'x_embedder.proj.weight' has 65536 elements over a storage of 16 (overlapping strides)"));
  CHECK_THROWS_WITH(sit::nn::infer_sit_options(with("y_embedder.embedding_table.weight", torch::zeros({11, 1})), hints, "c.pt"),
                    Catch::Contains("'y_embedder.embedding_table.weight' has shape [11, 1]") && Catch::Contains("implies [11, 64]"));
}
