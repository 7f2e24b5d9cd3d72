// The one-pass CPU updates of the training step against the operations they replace:
// torch::optim::AdamW's own loop, and ema <- decay * ema + (1 - decay) * model as tensor ops.
#include "support/catch_torch.h"
#include "train/adamw.h"
#include <sit/train/ema.h>

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
