#pragma once
// RMSNorm: LightningDiT's root-mean-square norm (its models/rmsnorm.py, after LLaMA's).

#include <torch/torch.h>

namespace sit::nn {

struct RMSNormOptions {
  /* implicit */ RMSNormOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, eps) = 1e-6;
};

/// x * rsqrt(mean(x^2) + eps) over the last dimension, computed in float32 and cast back to x's
/// dtype, then times a learnable `weight` (dim,) initialised to ones.
class RMSNormImpl : public torch::nn::Cloneable<RMSNormImpl> {
 public:
  explicit RMSNormImpl(RMSNormOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (..., dim) -> (..., dim), in the dtype x * weight promotes to (as LightningDiT's).
  torch::Tensor forward(const torch::Tensor& x);

  RMSNormOptions options;
  torch::Tensor weight;
};
TORCH_MODULE(RMSNorm);

}  // namespace sit::nn
