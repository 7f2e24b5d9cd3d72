#pragma once
// The norm that adaLN modulates, in the blocks (norm1, norm2) and the final layer (norm_final):
// SiT's LayerNorm without affine parameters, or LightningDiT's RMSNorm (use_rmsnorm).

#include "nn/layer_norm_modulate.h"
#include "nn/modulate.h"
#include <sit/nn/rms_norm.h>

namespace sit::nn {

/// LayerNorm(D, elementwise_affine=False, eps=1e-6), or RMSNorm(D) (a weight, eps 1e-6).
inline torch::nn::AnyModule adaln_norm(int64_t hidden_size, bool use_rmsnorm) {
  if (use_rmsnorm) return torch::nn::AnyModule(RMSNorm(hidden_size));
  return torch::nn::AnyModule(
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_size}).elementwise_affine(false).eps(1e-6)));
}

/// norm(x) * (1 + scale) + shift: x (N, T, D), shift and scale (N, D). The LayerNorm, having no
/// parameters, is done by layer_norm_modulate together with the modulation.
inline torch::Tensor norm_modulate(torch::nn::AnyModule& norm, const torch::Tensor& x, const torch::Tensor& shift,
                                   const torch::Tensor& scale) {
  if (const auto* layer_norm = norm.ptr()->as<torch::nn::LayerNorm>()) {
    return layer_norm_modulate(x, shift, scale, layer_norm->options.eps());
  }
  return modulate(norm.forward(x), shift, scale);
}

}  // namespace sit::nn
