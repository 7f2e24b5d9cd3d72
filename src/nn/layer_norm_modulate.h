#pragma once
// adaLN's normalise-then-modulate, LayerNorm(x) * (1 + scale) + shift with a LayerNorm without
// affine parameters, as one operation: one pass over x forward and one backward, where LayerNorm
// then addcmul read and write the (N, T, D) activations twice each way. Every SiT block does it
// twice and the final layer once.

#include <torch/types.h>

namespace sit::nn {

/// x (N, T, D), shift and scale (N, D) -> (N, T, D), differentiable in all three. A float32 x on
/// a GPU (in a CUDA build), or on the CPU when gradients are wanted, takes sit's fused kernels,
/// which accumulate in float and save only each row's mean and 1 / std for the backward pass;
/// everything else takes layer_norm then modulate.
torch::Tensor layer_norm_modulate(const torch::Tensor& x, const torch::Tensor& shift,
                                  const torch::Tensor& scale, double eps);

}  // namespace sit::nn
