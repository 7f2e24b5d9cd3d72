#pragma once
// Multi-head attention from the qkv projection, as one operation on the CPU in float32: per
// sample and head, softmax(q k^T / sqrt(head_dim)) v by two BLAS sgemms and a softmax, forward and
// backward.
//
// LibTorch 1.13's CPU bmm on a BLAS other than MKL (Debian's OpenBLAS) loops over its N x heads
// small matrices with a select and an mm for each, and attention's reshapes copy q, k, v and the
// output; the loop and its calls took 15% of the 28x28 fp32 training step's profiled time, a
// third of the quick start's (docs/performance.md). Here q, k and v are read in place from the
// (N, T, 3 D) projection (rows 3 D apart), the output is written as (N, T, D) for the proj layer,
// and the backward writes the gradient of the projection directly. LibTorch 2.x takes
// scaled_dot_product_attention instead.

#include <torch/types.h>

namespace sit::nn {

/// Whether cpu_attention takes qkv: a float32 CPU tensor without a forward-mode tangent, in a
/// process whose BLAS exports cblas_sgemm (looked up, as OpenBLAS and MKL do) and may be called
/// from OpenMP threads (not OpenBLAS's pthreads build).
bool cpu_attention_applies(const torch::Tensor& qkv);

/// qkv (N, T, 3 D), laid out as timm's Attention reshapes it ((3, heads, head_dim) per token) ->
/// (N, T, D), the heads' outputs side by side; differentiable in qkv. The softmax saved for the
/// backward pass takes N heads T^2 floats, as the composed operation's does.
torch::Tensor cpu_attention(const torch::Tensor& qkv, int64_t num_heads);

}  // namespace sit::nn
