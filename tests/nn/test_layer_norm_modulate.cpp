// layer_norm_modulate: the fused CPU kernel against layer_norm then modulate in float64.
#include "nn/layer_norm_modulate_check.h"

namespace layer_norm_modulate_test {

TEST_CASE("layer_norm_modulate's CPU kernel matches layer_norm then modulate", "[nn]") {
  sit::test::check_layer_norm_modulate(torch::kCPU, 3, 5, 37);   // rows of odd width
  sit::test::check_layer_norm_modulate(torch::kCPU, 2, 64, 384);  // SiT-S/2's width and tokens
}

TEST_CASE("layer_norm_modulate takes bf16 modulation as addcmul would and returns its gradients in bf16",
          "[nn]") {
  torch::manual_seed(1);
  const auto x = torch::randn({2, 4, 16}).requires_grad_();
  const auto shift = torch::randn({2, 16}).to(torch::kBFloat16).requires_grad_();
  const auto scale = torch::randn({2, 16}).to(torch::kBFloat16).requires_grad_();
  const auto y = sit::nn::layer_norm_modulate(x, shift, scale, 1e-6);
  const auto composed = sit::nn::modulate(torch::layer_norm(x, {16}, {}, {}, 1e-6), shift, scale);
  CHECK(y.scalar_type() == composed.scalar_type());
  CHECK(torch::allclose(y, composed, 1e-5, 1e-5));
  y.sum().backward();
  CHECK(shift.grad().scalar_type() == torch::kBFloat16);
  CHECK(scale.grad().scalar_type() == torch::kBFloat16);
}

TEST_CASE("layer_norm_modulate names the shapes it cannot take", "[nn]") {
  CHECK_THROWS_WITH(sit::nn::layer_norm_modulate(torch::zeros({2, 4, 16}), torch::zeros({2, 8}),
                                                 torch::zeros({2, 8}), 1e-6),
                    Catch::Contains("expects x (N, T, D) with shift and scale (N, D), but got x [2, 4, 16]"));
}

}  // namespace layer_norm_modulate_test
