// gelu_tanh's CPU kernels against torch::gelu(x, "tanh") in float64, forward and backward, in
// float32 and bfloat16.
#include "support/catch_torch.h"

#include "nn/gelu_tanh.h"

#include <cmath>

namespace gelu_tanh_test {

// Every float32 value the kernels must treat alike: zero, tiny, the bend, the tails where
// e^(-2u) under- and overflows, and a spread of activations.
torch::Tensor inputs(torch::Dtype dtype) {
  auto special = torch::tensor({0.0, -0.0, 1e-30, -1e-30, 1e-4, -1e-4, -0.75, 0.75, -5.0, 5.0, -9.0, -10.0, 9.5,
                                -12.0, 20.0, -20.0, 100.0, -100.0, 3e4, -3e4}, torch::kDouble);
  auto ramp = torch::linspace(-12, 12, 24001, torch::kDouble);
  torch::manual_seed(0);
  auto spread = torch::randn({4, 49, 512}, torch::kDouble) * 2;
  return torch::cat({special, ramp, spread.flatten()}).to(dtype);
}

// gelu_tanh and its derivative at x in float64, by autograd through x sigmoid(2 u). Not through
// torch::gelu: its 0.5 x (1 + tanh u) cancels to 0 where tanh u rounds to -1 (x < -7 in float64).
std::pair<torch::Tensor, torch::Tensor> reference(const torch::Tensor& x) {
  auto x64 = x.to(torch::kDouble).requires_grad_();
  const double beta = std::sqrt(2 / M_PI);
  auto y = x64 * torch::sigmoid(2 * beta * (x64 + 0.044715 * x64.pow(3)));
  y.sum().backward();
  return {y.detach(), x64.grad()};
}

// Below this gelu_tanh underflows (x < -10): the kernels may flush it to 0.
constexpr double kTail = 1e-30;

// The largest error relative to the float64 value where that is above kTail, in units of
// 1 + |2u|: e^(-2u) from a float u carries u's rounding as a relative error |2u| times as large,
// in ATen's tanh as in the kernels (up to 8.4e-6 at x = -10). And the largest absolute error
// where the value is below kTail.
std::pair<double, double> relative_error(const torch::Tensor& x, const torch::Tensor& value,
                                         const torch::Tensor& reference) {
  const auto x64 = x.to(torch::kDouble);
  const auto conditioning = 1 + (2 * std::sqrt(2 / M_PI) * (x64 + 0.044715 * x64.pow(3))).abs();
  const auto error = (value.to(torch::kDouble) - reference).abs();
  const auto normal = reference.abs() > kTail;
  return {(error / reference.abs() / conditioning).index({normal}).max().item<double>(),
          error.index({normal.logical_not()}).max().item<double>()};
}

std::pair<torch::Tensor, torch::Tensor> kernel(const torch::Tensor& x, const torch::Tensor& dy) {
  auto leaf = x.clone().requires_grad_();
  auto y = sit::nn::gelu_tanh(leaf);
  y.backward(dy);
  return {y.detach(), leaf.grad()};
}

TEST_CASE("gelu_tanh's float32 kernels are within a few ulps of float64 gelu(x, \"tanh\")", "[nn]") {
  const auto x = inputs(torch::kFloat32);
  const auto [y_ref, dx_ref] = reference(x);
  const auto [y, dx] = kernel(x, torch::ones_like(x));
  REQUIRE(y.scalar_type() == torch::kFloat32);
  REQUIRE(dx.scalar_type() == torch::kFloat32);
  // The value relative to itself (gelu is far from 0 except near x = 0, where it is x / 2); the
  // derivative, which crosses 0 near x = -0.75, against its scale (at most about 1.13).
  const auto [y_error, y_tail_error] = relative_error(x, y, y_ref);
  const auto dx_error = (dx.to(torch::kDouble) - dx_ref).abs().max().item<double>();
  CHECK(y_error < 1e-6);  // 2^-24 = 6e-8 per rounding
  CHECK(y_tail_error < 1e-34);  // below 1e-30, flushed to 0 or not
  CHECK(dx_error < 1e-6);
  CHECK(torch::equal(y.abs().index({torch::indexing::Slice(0, 2)}), torch::zeros({2})));  // gelu(+-0) = 0
  CHECK(!torch::isnan(y).any().item<bool>());
  // And as torch::gelu computes it in float32, to its rounding.
  CHECK(torch::allclose(y, torch::gelu(x, "tanh"), 1e-6, 1e-6));
  CHECK(!torch::isnan(dx).any().item<bool>());
}

TEST_CASE("gelu_tanh's bfloat16 kernels round float64 gelu(x, \"tanh\") once to bfloat16", "[nn]") {
  const auto x = inputs(torch::kBFloat16);
  const auto dy = torch::randn(x.sizes(), torch::kDouble).to(torch::kBFloat16);
  const auto [y_ref, dx_ref] = reference(x);
  const auto [y, dx] = kernel(x, dy);
  REQUIRE(y.scalar_type() == torch::kBFloat16);
  REQUIRE(dx.scalar_type() == torch::kBFloat16);
  // Within one bfloat16 ulp (2^-8 relative) of the float64 value, and equal to its rounding
  // nearly everywhere (computed in float and rounded once; the float64 reference rounds once too).
  const auto [y_error, y_tail_error] = relative_error(x, y, y_ref);
  CHECK(y_error <= 1.0 / 256);  // within bfloat16's rounding
  CHECK(y_tail_error < 1e-32);  // below 1e-30: flushed to 0, or rounded
  const auto normal = y_ref.abs() > kTail;
  CHECK(y.eq(y_ref.to(torch::kBFloat16)).index({normal}).to(torch::kDouble).mean().item<double>() > 0.999);
  // dx = dy gelu'(x) rounded once: within 2^-8 of it, but for the float error of gelu'(x) where it
  // crosses 0 (near x = -0.75) or underflows (x < -10), below 1e-6 |dy|.
  const auto dy64 = dy.to(torch::kDouble), dx_expected = dx_ref * dy64;
  const auto dx_error = (dx.to(torch::kDouble) - dx_expected).abs() - dx_expected.abs() / 256 - 1e-6 * dy64.abs();
  CHECK(dx_error.max().item<double>() <= 0);
  const auto dx_normal = dx_ref.abs() > kTail;
  CHECK(dx.eq(dx_expected.to(torch::kBFloat16)).index({dx_normal}).to(torch::kDouble).mean().item<double>() > 0.999);
}

TEST_CASE("gelu_tanh takes torch::gelu where its kernels do not apply", "[nn]") {
  const auto x = torch::linspace(-4, 4, 17, torch::kDouble);
  CHECK(torch::equal(sit::nn::gelu_tanh(x), torch::gelu(x, "tanh")));  // float64
  const auto strided = torch::randn({8, 6}).t();                      // not contiguous: made so
  CHECK(torch::allclose(sit::nn::gelu_tanh(strided), torch::gelu(strided, "tanh"), 1e-6, 1e-7));
}

}  // namespace gelu_tanh_test
