#include "nn/pos_embed.h"

namespace sit::nn {

torch::Tensor get_1d_sincos_pos_embed_from_grid(int64_t embed_dim, const torch::Tensor& pos) {
  TORCH_CHECK(embed_dim % 2 == 0, "embed_dim must be even, but got ", embed_dim);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  auto omega = torch::arange(embed_dim / 2, f64) / (embed_dim / 2.0);
  omega = 1.0 / torch::pow(10000.0, omega);                         // (D/2,)
  auto out = torch::outer(pos.reshape(-1).to(torch::kFloat64), omega);  // (M, D/2)
  return torch::cat({torch::sin(out), torch::cos(out)}, 1);             // (M, D)
}

torch::Tensor get_2d_sincos_pos_embed(int64_t embed_dim, int64_t grid_size) {
  TORCH_CHECK(embed_dim % 2 == 0, "embed_dim must be even, but got ", embed_dim);
  auto coords = torch::arange(grid_size, torch::kFloat32);
  // Token (i, j) at row i, column j; the official meshgrid(grid_w, grid_h) puts the column
  // index in grid[0], which encodes the first half of the embedding.
  auto grids = torch::meshgrid({coords, coords}, "ij");
  auto column = grids[1].reshape(-1);  // (T,)
  auto row = grids[0].reshape(-1);     // (T,)
  auto emb = torch::cat({get_1d_sincos_pos_embed_from_grid(embed_dim / 2, column),
                         get_1d_sincos_pos_embed_from_grid(embed_dim / 2, row)},
                        1);  // (T, D)
  return emb.to(torch::kFloat32);
}

}  // namespace sit::nn
