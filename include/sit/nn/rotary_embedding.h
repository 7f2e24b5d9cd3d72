#pragma once
// VisionRotaryEmbeddingFast: LightningDiT's 2-D axial rotary position embedding (its
// models/pos_embed.py, from EVA-02), applied to the queries and keys of every block.

#include <torch/torch.h>

namespace sit::nn {

struct VisionRotaryEmbeddingFastOptions {
  /// dim: half the head dimension (LightningDiT's half_head_dim), a multiple of 2; pt_seq_len:
  /// the token grid's side S = input_size / patch_size.
  VisionRotaryEmbeddingFastOptions(int64_t dim, int64_t pt_seq_len) : dim_(dim), pt_seq_len_(pt_seq_len) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, pt_seq_len);
  TORCH_ARG(double, theta) = 10000.0;
};

/// Token (i, j) of the S x S grid turns each pair of channels (2m, 2m + 1) of a head by an angle:
/// pos * theta^(-2k / dim), with pos = i for the first dim channels and pos = j for the last dim,
/// k = m mod (dim / 2). The tables are buffers, `freqs_cos` and `freqs_sin` (S^2, 2 dim), as in
/// LightningDiT's state dict.
class VisionRotaryEmbeddingFastImpl : public torch::nn::Cloneable<VisionRotaryEmbeddingFastImpl> {
 public:
  explicit VisionRotaryEmbeddingFastImpl(VisionRotaryEmbeddingFastOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// t: (N, heads, S^2, 2 dim) -> t * cos + rotate_half(t) * sin, rotate_half(.., a, b, ..) =
  /// (.., -b, a, ..) pair by pair.
  torch::Tensor forward(const torch::Tensor& t) const;

  VisionRotaryEmbeddingFastOptions options;
  torch::Tensor freqs_cos;  // (S^2, 2 dim)
  torch::Tensor freqs_sin;  // (S^2, 2 dim)
};
TORCH_MODULE(VisionRotaryEmbeddingFast);

}  // namespace sit::nn
