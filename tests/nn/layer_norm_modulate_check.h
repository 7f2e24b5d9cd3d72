#pragma once
// layer_norm_modulate's float32 kernels against the composed operation (layer_norm, then
// modulate) in float64, forward and all three gradients, on a device. Shared by the CPU test and
// the CUDA test.

#include "support/catch_torch.h"
#include "support/scaled_error.h"

#include "nn/layer_norm_modulate.h"
#include "nn/modulate.h"

namespace sit::test {

inline void check_layer_norm_modulate(torch::Device device, int64_t N, int64_t T, int64_t D) {
  torch::manual_seed(0);
  // An offset and spread like a residual stream's, so that the mean matters.
  const auto x = torch::randn({N, T, D}, torch::kDouble) * 3 + 0.5;
  const auto shift = torch::randn({N, D}, torch::kDouble), scale = torch::randn({N, D}, torch::kDouble) * 0.5;
  const auto dy = torch::randn({N, T, D}, torch::kDouble);
  auto run = [&](torch::Dtype dtype, torch::Device on, bool fused) {
    std::vector<torch::Tensor> inputs{x, shift, scale};
    for (auto& input : inputs) input = input.to(on, dtype, /*non_blocking=*/false, /*copy=*/true).requires_grad_();
    const double eps = 1e-6;
    auto y = fused ? nn::layer_norm_modulate(inputs[0], inputs[1], inputs[2], eps)
                   : nn::modulate(torch::layer_norm(inputs[0], {D}, {}, {}, eps), inputs[1], inputs[2]);
    y.backward(dy.to(on, dtype));
    return std::vector<torch::Tensor>{y.detach(), inputs[0].grad(), inputs[1].grad(), inputs[2].grad()};
  };
  const auto reference = run(torch::kDouble, torch::kCPU, false);
  const auto fused = run(torch::kFloat32, device, true);
  const char* names[] = {"y", "dx", "dshift", "dscale"};
  for (size_t i = 0; i < 4; ++i) {
    INFO(names[i] << " on " << device << ", (N, T, D) = (" << N << ", " << T << ", " << D << ")");
    CHECK(fused[i].scalar_type() == torch::kFloat32);
    CHECK(fused[i].device() == device);
    CHECK(scaled_error(fused[i], reference[i]) < 1e-5);  // float32 rounding over sums of D and T terms
  }
}

}  // namespace sit::test
