#pragma once
// Fixed 2-D sine-cosine position embedding (the MAE functions at the end of the official models.py).

#include <torch/torch.h>

namespace sit::nn {

/// Sine-cosine embedding of positions `pos` (M,): returns (M, embed_dim) float64, the first half
/// sin(pos * omega), the second cos(pos * omega), omega_k = 10000^(-k / (embed_dim / 2)).
torch::Tensor get_1d_sincos_pos_embed_from_grid(int64_t embed_dim, const torch::Tensor& pos);

/// Embedding of a grid_size x grid_size token grid, tokens in row-major order: returns
/// (grid_size^2, embed_dim) float32. As in the official code the first half of each row encodes
/// the column index and the second half the row index ("w goes first" in the meshgrid).
torch::Tensor get_2d_sincos_pos_embed(int64_t embed_dim, int64_t grid_size);

}  // namespace sit::nn
