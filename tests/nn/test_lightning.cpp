// LightningDiT's block options against the authors' model (hustvl/LightningDiT @2725fed): the
// forward and every parameter gradient of the cases that tests/data/lightning/
// make_lightning_fixtures.py wrote, each model read from its torch.save'd state dict with the
// options inferred from its keys. Tolerance: relative L2 1e-5 (float32).
#include "support/catch_torch.h"
#include <sit/io/npy.h>
#include <sit/nn/flops.h>
#include <sit/nn/precision.h>
#include <sit/nn/sit_from_state_dict.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "support/relative_l2.h"

using sit::test::relative_l2;

namespace {

std::string case_dir(const std::string& name) { return std::string(SIT_TEST_DATA_DIR) + "/lightning/" + name; }

nlohmann::json case_model(const std::string& dir) {
  std::ifstream in(dir + "/case.json");
  REQUIRE(in);
  return nlohmann::json::parse(in)["model"];
}

const std::vector<std::string> kCases = {"all", "rmsnorm", "swiglu", "rope", "qknorm"};

}  // namespace

TEST_CASE("LightningDiT options: forward and parameter gradients match the authors' model", "[nn][parity]") {
  for (const auto& name : kCases) {
    INFO("case " << name);
    const auto dir = case_dir(name);
    const auto m = case_model(dir);
    auto model = sit::nn::load_sit(dir + "/ckpt.pt", sit::nn::ArchitectureHints().num_heads(4));
    const auto& o = model->options;
    CHECK(o.use_rmsnorm() == m["use_rmsnorm"].get<bool>());
    CHECK(o.use_swiglu() == m["use_swiglu"].get<bool>());
    CHECK(o.use_rope() == m["use_rope"].get<bool>());
    CHECK(o.use_qknorm() == m["use_qknorm"].get<bool>());
    CHECK(o.depth() == m["depth"].get<int64_t>());
    CHECK(o.learn_sigma() == m["learn_sigma"].get<bool>());
    CHECK(o.mlp_ratio() == m["mlp_ratio"].get<double>());

    auto reference = sit::io::read_npz(dir + "/reference.npz");
    auto out = model->forward(reference["x"], reference["t"], reference["y"]);  // eval: no label dropout
    CHECK(relative_l2(out, reference["forward"]) < 1e-5);
    (out * reference["w"]).sum().backward();
    auto grads = sit::io::read_npz(dir + "/grads.npz");
    size_t trained = 0;
    for (const auto& item : model->named_parameters()) {
      if (!item.value().requires_grad()) continue;
      ++trained;
      INFO("parameter " << item.key());
      CHECK(grads.contains(item.key()));
      CHECK(item.value().grad().defined());
      if (!grads.contains(item.key()) || !item.value().grad().defined()) continue;
      const auto& expected = grads[item.key()];
      if (expected.norm().item<double>() < 1e-5) {
        // k_norm.bias without rope: it shifts every key alike, to which the softmax is blind, so
        // its exact gradient is 0 and both sides hold rounding noise (6e-7): compared absolutely.
        CHECK(item.key().find("k_norm.bias") != std::string::npos);
        CHECK((item.value().grad() - expected).norm().item<double>() < 1e-5);
      } else {
        CHECK(relative_l2(item.value().grad(), expected) < 1e-5);
      }
    }
    CHECK(trained == grads.size());
  }
}

TEST_CASE("LightningDiT options: a fresh model has the authors' keys, shapes and rotary tables", "[nn][parity]") {
  for (const auto& name : kCases) {
    INFO("case " << name);
    const auto dir = case_dir(name);
    auto file = sit::io::read_state_dict(dir + "/ckpt.pt");
    sit::nn::SiT fresh(sit::nn::infer_sit_options(file, sit::nn::ArchitectureHints().num_heads(4)));
    auto ours = sit::io::state_dict(*fresh);
    CHECK(ours.size() == file.size());
    for (const auto& item : file) {
      INFO("key " << item.key());
      REQUIRE(ours.contains(item.key()));
      CHECK(ours[item.key()].sizes() == item.value().sizes());
    }
    if (fresh->options.use_rope()) {
      CHECK((fresh->feat_rope->freqs_cos - file["feat_rope.freqs_cos"]).abs().max().item<double>() < 1e-6);
      CHECK((fresh->feat_rope->freqs_sin - file["feat_rope.freqs_sin"]).abs().max().item<double>() < 1e-6);
    }
    if (fresh->options.use_rmsnorm()) {  // RMSNorm weights start at ones
      CHECK(torch::equal(fresh->final_layer->named_parameters()["norm_final.weight"], torch::ones({64})));
    }
  }
}

TEST_CASE("LightningDiT options: the rope tables give the heads of a bare state dict", "[nn]") {
  auto file = sit::io::read_state_dict(case_dir("all") + "/ckpt.pt");  // hidden 64: no preset's width
  CHECK(sit::nn::infer_sit_options(file).num_heads() == 4);
  CHECK_THROWS_WITH(sit::nn::infer_sit_options(sit::io::read_state_dict(case_dir("swiglu") + "/ckpt.pt")),
                    Catch::Contains("give the number of heads"));
}

TEST_CASE("LightningDiT options: every combination trains under bf16 autocast within 5% of fp32", "[nn]") {
  for (int combination = 0; combination < 16; ++combination) {
    INFO("combination " << combination);
    torch::manual_seed(combination);
    sit::nn::SiT model(sit::nn::SiTOptions().input_size(8).patch_size(2).in_channels(4).hidden_size(32).depth(1)
                           .num_heads(2).num_classes(10)
                           .use_rmsnorm((combination & 1) != 0).use_swiglu((combination & 2) != 0)
                           .use_rope((combination & 4) != 0).use_qknorm((combination & 8) != 0));
    {
      torch::NoGradGuard no_grad;  // the official initialisation zeroes the output layer
      for (auto& item : model->named_parameters()) {
        if (item.key() != "pos_embed") item.value().add_(torch::randn_like(item.value()) * 0.05);
      }
    }
    model->eval();  // no label dropout: both forwards see the same labels
    auto x = torch::randn({2, 4, 8, 8});
    auto t = torch::rand({2});
    auto y = torch::tensor({1, 10});
    auto fp32 = model->forward(x, t, y);
    torch::Tensor bf16;
    {
      sit::nn::AutocastGuard autocast(torch::kCPU, sit::nn::Precision::BF16);
      bf16 = model->forward(x, t, y);
    }
    CHECK(bf16.isfinite().all().item<bool>());
    CHECK(relative_l2(bf16.to(torch::kFloat32), fp32) < 0.05);
    bf16.to(torch::kFloat32).square().mean().backward();
    for (const auto& item : model->named_parameters()) {
      INFO("parameter " << item.key());
      if (item.value().requires_grad()) CHECK(item.value().grad().isfinite().all().item<bool>());
    }
  }
}

TEST_CASE("LightningDiT options: SwiGLU's FLOPs are the Mlp's when 2/3 of its width is whole", "[nn]") {
  auto xl = sit::nn::SiTOptions();  // SiT-XL/2: 4608 -> 3072
  CHECK(sit::nn::forward_flops(sit::nn::SiTOptions(xl).use_swiglu(true), 1) == sit::nn::forward_flops(xl, 1));
  auto small = sit::nn::SiTOptions().hidden_size(64).num_heads(4).depth(1).mlp_ratio(2);  // 128 -> 85
  const double T = 16.0 * 16.0;  // input 32, patch 2
  CHECK(sit::nn::forward_flops(small, 1) - sit::nn::forward_flops(sit::nn::SiTOptions(small).use_swiglu(true), 1) ==
        Approx(2 * T * (2 * 64 * 128 - 3 * 64 * 85)));
}
