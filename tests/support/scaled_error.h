#pragma once
// The error of a kernel's output against a float64 reference, relative to the reference's scale:
// the measure of the kernel tests (layer_norm_modulate, cpu_attention), where single elements near
// 0 make a relative error per element meaningless.

#include <torch/torch.h>

namespace sit::test {

/// max |value - reference| / max |reference|, computed in float64 on the CPU.
inline double scaled_error(const torch::Tensor& value, const torch::Tensor& reference) {
  return ((value.to(torch::kDouble).cpu() - reference).abs().max() / reference.abs().max()).item<double>();
}

}  // namespace sit::test
