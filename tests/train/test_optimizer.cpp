// The one-pass CPU updates of the training step against the operations they replace:
// torch::optim::AdamW's own loop, and ema <- decay * ema + (1 - decay) * model as tensor ops; both
// AdamW paths with the run's betas against Python's torch.optim.AdamW.
#include "support/catch_torch.h"
#include <sit/io/npy.h>
#include "train/adamw.h"
#include <sit/train/ema.h>
#include <sit/train/optim_config.h>

#include <string>
#include <vector>

namespace optimizer_test {

// Parameters of several sizes (one smaller than a parallel grain, one larger, one without a
// gradient), each with a copy, and gradients drawn per step.
struct Twins {
  std::vector<torch::Tensor> a, b;
  Twins() {
    torch::manual_seed(3);
    for (auto shape : std::vector<std::vector<int64_t>>{{7}, {3, 5}, {257, 129}, {4}}) {
      auto p = torch::randn(shape);
      a.push_back(p.clone().requires_grad_());
      b.push_back(p.clone().requires_grad_());
    }
  }
  void draw_gradients(int step) {
    torch::manual_seed(100 + step);
    for (size_t i = 0; i + 1 < a.size(); ++i) {  // the last parameter never gets a gradient
      auto g = torch::randn(a[i].sizes()) * static_cast<double>(i + 1);
      a[i].mutable_grad() = g.clone();
      b[i].mutable_grad() = g.clone();
    }
  }
};

}  // namespace optimizer_test

TEST_CASE("cpu_adamw_step equals torch::optim::AdamW's loop to float rounding", "[train]") {
  for (double weight_decay : {0.0, 0.1}) {
    optimizer_test::Twins t;
    auto options = torch::optim::AdamWOptions(3e-2).weight_decay(weight_decay).eps(1e-8);
    torch::optim::AdamW reference(t.a, options), fused(t.b, options);
    for (int step = 0; step < 6; ++step) {
      t.draw_gradients(step);
      reference.step();
      sit::train::cpu_adamw_step(fused, t.b);
    }
    for (size_t i = 0; i < t.a.size(); ++i) {
      INFO("parameter " << i << ", weight decay " << weight_decay);
      // Measured: at most 1 float ulp of difference (ATen's vector kernels fuse multiply-adds).
      CHECK(torch::allclose(t.b[i], t.a[i], /*rtol=*/1e-6, /*atol=*/1e-7));
      auto a_state = reference.state().find(sit::train::parameter_key(reference.state(), t.a[i]));
      auto b_state = fused.state().find(sit::train::parameter_key(fused.state(), t.b[i]));
      REQUIRE((a_state == reference.state().end()) == (b_state == fused.state().end()));
      if (a_state == reference.state().end()) continue;  // no gradient, no state: as the loop
      const auto& sa = static_cast<const torch::optim::AdamWParamState&>(*a_state->second);
      const auto& sb = static_cast<const torch::optim::AdamWParamState&>(*b_state->second);
      CHECK(sb.step() == sa.step());
      // Gradients up to 3 N(0, 1): the moments differ by at most 1 ulp of numbers near 3 (2.4e-7,
      // measured), relative to 0 where they cancel.
      INFO("largest exp_avg difference " << (sb.exp_avg() - sa.exp_avg()).abs().max().item<double>());
      CHECK(torch::allclose(sb.exp_avg(), sa.exp_avg(), 1e-6, 5e-7));
      CHECK(torch::allclose(sb.exp_avg_sq(), sa.exp_avg_sq(), 1e-6, 5e-7));
    }
  }
}

TEST_CASE("AdamW with beta2 0.95 from the run's settings equals torch.optim.AdamW, by both step paths", "[train]") {
  // tests/data/train/adamw_reference.npz (make_adamw_reference.py): four steps of Python's AdamW.
  const auto reference = sit::io::read_npz(std::string(SIT_TEST_DATA_DIR) + "/train/adamw_reference.npz");
  sit::train::OptimConfig config;
  config.lr = 3e-2;
  config.weight_decay = 0.1;
  config.adam_beta2 = 0.95;
  const auto options = config.adamw_options();
  CHECK(std::get<0>(options.betas()) == 0.9);
  CHECK(std::get<1>(options.betas()) == 0.95);
  std::vector<torch::Tensor> looped, one_pass;
  for (int i = 0; i < 2; ++i) {
    const auto start = reference["p" + std::to_string(i) + "_start"];
    looped.push_back(start.clone().requires_grad_());
    one_pass.push_back(start.clone().requires_grad_());
  }
  torch::optim::AdamW loop_optimizer(looped, options), one_pass_optimizer(one_pass, options);
  for (int step = 0; step < 4; ++step) {
    for (int i = 0; i < 2; ++i) {
      const auto g = reference["g" + std::to_string(i) + "_step" + std::to_string(step)];
      looped[i].mutable_grad() = g.clone();
      one_pass[i].mutable_grad() = g.clone();
    }
    loop_optimizer.step();
    sit::train::cpu_adamw_step(one_pass_optimizer, one_pass);
  }
  for (int i = 0; i < 2; ++i) {
    const auto index = std::to_string(i);
    const auto& expected = reference["p" + index + "_end"];
    INFO("parameter " << i << ": loop off by " << (looped[i] - expected).abs().max().item<double>()
                      << ", one pass by " << (one_pass[i] - expected).abs().max().item<double>());
    // Parameters near 1 after 4 steps of 3e-2: float rounding, a few ulps (1e-7 each).
    CHECK(torch::allclose(looped[i], expected, 1e-6, 1e-6));
    CHECK(torch::allclose(one_pass[i], expected, 1e-6, 1e-6));
    for (auto* optimizer : {&loop_optimizer, &one_pass_optimizer}) {
      const auto& parameter = optimizer == &loop_optimizer ? looped[i] : one_pass[i];
      auto found = optimizer->state().find(sit::train::parameter_key(optimizer->state(), parameter));
      REQUIRE(found != optimizer->state().end());
      const auto& state = static_cast<const torch::optim::AdamWParamState&>(*found->second);
      CHECK(torch::allclose(state.exp_avg(), reference["exp_avg" + index], 1e-6, 1e-6));
      CHECK(torch::allclose(state.exp_avg_sq(), reference["exp_avg_sq" + index], 1e-6, 1e-6));
    }
  }
}

TEST_CASE("cpu_adamw_step refuses what its loop does not handle", "[train]") {
  auto p = torch::randn({4, 4}).t().requires_grad_();  // not contiguous
  p.mutable_grad() = torch::ones({4, 4});
  torch::optim::AdamW optimizer(std::vector<torch::Tensor>{p}, torch::optim::AdamWOptions(1e-3));
  CHECK_THROWS_WITH(sit::train::cpu_adamw_step(optimizer, {p}), Catch::Contains("contiguous float32 CPU"));
  torch::optim::AdamW amsgrad(std::vector<torch::Tensor>{p}, torch::optim::AdamWOptions(1e-3).amsgrad(true));
  CHECK_THROWS_WITH(sit::train::cpu_adamw_step(amsgrad, {p}), Catch::Contains("amsgrad is not supported"));
}

TEST_CASE("update_ema on CPU is decay * ema + (1 - decay) * model", "[train]") {
  torch::manual_seed(5);
  torch::nn::Linear model(300, 70), ema(300, 70);
  const double decay = 0.9;
  std::vector<torch::Tensor> expected;
  for (size_t i = 0; i < model->parameters().size(); ++i) {
    expected.push_back(ema->parameters()[i].detach() * decay + model->parameters()[i].detach() * (1 - decay));
  }
  sit::train::update_ema(*ema, *model, decay);
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK(torch::allclose(ema->parameters()[i], expected[i], 1e-6, 1e-7));
  }
  sit::train::update_ema(*ema, *model, 0.0);  // train.py's start: a copy
  for (size_t i = 0; i < expected.size(); ++i) CHECK(torch::equal(ema->parameters()[i], model->parameters()[i]));
}
