#pragma once

#include <torch/torch.h>

namespace sit::nn {

/// adaLN modulation: x (N, T, D) scaled and shifted per sample by shift, scale (N, D):
/// x * (1 + scale) + shift, in one pass over x.
inline torch::Tensor modulate(const torch::Tensor& x, const torch::Tensor& shift,
                              const torch::Tensor& scale) {
  return torch::addcmul(shift.unsqueeze(1), x, 1 + scale.unsqueeze(1));
}

/// The gated residual x + gate * branch, gate (N, D) per sample, in one pass.
inline torch::Tensor gated_residual(const torch::Tensor& x, const torch::Tensor& gate,
                                    const torch::Tensor& branch) {
  return torch::addcmul(x, gate.unsqueeze(1), branch);
}

}  // namespace sit::nn
