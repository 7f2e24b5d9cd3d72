#pragma once
// GELU with the tanh approximation (timm's Mlp in SiT: nn.GELU(approximate="tanh")) on the CPU.
//
// LibTorch 1.13's CPU gelu(x, "tanh") took a tenth to a quarter of a training step's profiled
// time (a quarter for the quick start's model in bf16: ATen's bf16 kernel is slower than its
// float one; docs/performance.md). gelu_tanh(x) = x sigmoid(2 u), u = sqrt(2 / pi) (x + 0.044715
// x^3), the same function as 0.5 x (1 + tanh u), with e^(-2u) from a polynomial the compiler
// vectorises, in one pass forward and one backward.

#include <torch/types.h>

namespace sit::nn {

/// gelu(x, "tanh"), differentiable. A float32 or bfloat16 x on the CPU without a forward-mode
/// tangent takes sit's kernels (computed in float, rounded once to x's dtype; within a few float
/// ulps of torch::gelu); anything else takes torch::gelu.
torch::Tensor gelu_tanh(const torch::Tensor& x);

}  // namespace sit::nn
