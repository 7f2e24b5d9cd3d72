#pragma once

#include <torch/torch.h>

namespace sit::nn {

/// adaLN modulation: x (N, T, D) scaled and shifted per sample by shift, scale (N, D):
/// x * (1 + scale) + shift.
inline torch::Tensor modulate(const torch::Tensor& x, const torch::Tensor& shift,
                              const torch::Tensor& scale) {
  return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);
}

}  // namespace sit::nn
