#pragma once
// The relative error that the parity tolerances (the fixtures' README) are stated in.

#include <torch/torch.h>

namespace sit::test {

/// ||actual - expected||_2 / ||expected||_2, computed in float64.
inline double relative_l2(const torch::Tensor& actual, const torch::Tensor& expected) {
  auto a = actual.to(torch::kFloat64), e = expected.to(torch::kFloat64);
  return ((a - e).norm() / e.norm()).item<double>();
}

}  // namespace sit::test
