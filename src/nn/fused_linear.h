#pragma once
// A linear layer on token batches (N, T, D) as one matmul-with-bias (addmm).
//
// torch::nn::Linear::forward (the C++ frontend's functional linear) runs matmul then a separate
// bias add for any input that is not 2-D; ATen's linear, which Python's nn.Linear calls, folds a
// contiguous (N, T, D) input to (N T, D) and fuses the bias. On the CPU the unfused form cost
// SiT-S/2's forward about a fifth more time.

#include <torch/nn/modules/linear.h>

namespace sit::nn {

/// layer(x) through at::linear: x (..., in_features) -> (..., out_features).
inline torch::Tensor fused_linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return torch::linear(x, layer->weight, layer->bias);
}

}  // namespace sit::nn
