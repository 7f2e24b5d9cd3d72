// cpu_attention against softmax(q k^T / sqrt(head_dim)) v composed from ATen ops in float64,
// forward and the gradient of the qkv projection.
#include "support/catch_torch.h"
#include "support/scaled_error.h"

#include "nn/cpu_attention.h"

#include <cmath>

namespace cpu_attention_test {

// timm's Attention on the projection qkv (N, T, 3 D): (N, T, D).
torch::Tensor composed(const torch::Tensor& qkv, int64_t heads) {
  const int64_t N = qkv.size(0), T = qkv.size(1), D = qkv.size(2) / 3, hd = D / heads;
  auto qkv_heads = qkv.reshape({N, T, 3, heads, hd}).permute({2, 0, 3, 1, 4});
  auto q = qkv_heads[0] / std::sqrt(static_cast<double>(hd)), k = qkv_heads[1], v = qkv_heads[2];
  auto out = torch::matmul(torch::matmul(q, k.transpose(-2, -1)).softmax(-1), v);  // (N, H, T, hd)
  return out.transpose(1, 2).reshape({N, T, D});
}

void check(int64_t N, int64_t T, int64_t heads, int64_t hd) {
  INFO("(N, T, heads, head_dim) = (" << N << ", " << T << ", " << heads << ", " << hd << ")");
  torch::manual_seed(0);
  const auto qkv = torch::randn({N, T, 3 * heads * hd}, torch::kDouble) * 1.5;
  const auto dy = torch::randn({N, T, heads * hd}, torch::kDouble);
  auto reference_input = qkv.clone().requires_grad_();
  auto reference = composed(reference_input, heads);
  reference.backward(dy);
  auto input = qkv.to(torch::kFloat32).requires_grad_();
  REQUIRE(sit::nn::cpu_attention_applies(input));
  auto out = sit::nn::cpu_attention(input, heads);
  out.backward(dy.to(torch::kFloat32));
  REQUIRE(out.sizes() == reference.sizes());
  CHECK(sit::test::scaled_error(out.detach(), reference.detach()) < 1e-5);  // float32 sums over T, head_dim
  CHECK(sit::test::scaled_error(input.grad(), reference_input.grad()) < 1e-5);
}

TEST_CASE("cpu_attention matches the composed attention and its gradient in float64", "[nn]") {
  check(3, 5, 2, 3);    // odd sizes
  check(2, 49, 4, 32);  // the quick start's model
  check(2, 64, 6, 64);  // SiT-S/2's heads
}

TEST_CASE("cpu_attention names the projection it cannot take", "[nn]") {
  CHECK_FALSE(sit::nn::cpu_attention_applies(torch::zeros({1, 2, 6}, torch::kDouble)));
  CHECK_THROWS_WITH(sit::nn::cpu_attention(torch::zeros({2, 4, 16}), 2),
                    Catch::Contains("qkv (N, T, 3 D) with D divisible by num_heads 2") &&
                        Catch::Contains("[2, 4, 16]"));
}

}  // namespace cpu_attention_test
