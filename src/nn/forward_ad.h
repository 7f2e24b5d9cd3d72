#pragma once
// Forward-mode AD (a JVP, as MeanFlow's loss takes) through the modules: SDPA's kernels and sit's
// fused LayerNorm+modulate have no forward-mode formula, so a module whose input carries a
// tangent takes plain differentiable ops instead.

#include <torch/types.h>

namespace sit::nn {

/// Whether x carries a tangent of forward-mode AD. LibTorch (1.13 and 2.x) opens one dual level
/// at a time, and the first has index 0.
inline bool has_tangent(const torch::Tensor& x) { return x._fw_grad(/*level=*/0).defined(); }

}  // namespace sit::nn
