#pragma once
// The VAE mid block's self-attention over pixels: diffusers' Attention with one head of width C,
// a GroupNorm in front and a residual connection.

#include <torch/torch.h>

namespace sit::vae {

struct AttentionOptions {
  explicit AttentionOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, groups) = 32;
  TORCH_ARG(double, eps) = 1e-6;
};

/// x + to_out(softmax(q k^T / sqrt(C)) v), with q, k, v projected from group_norm(x) per pixel.
class AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
 public:
  explicit AttentionImpl(AttentionOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, C, H, W) -> (N, C, H, W).
  torch::Tensor forward(const torch::Tensor& x);

  AttentionOptions options;
  torch::nn::GroupNorm group_norm{nullptr};
  torch::nn::Linear to_q{nullptr};
  torch::nn::Linear to_k{nullptr};
  torch::nn::Linear to_v{nullptr};
  // diffusers' [Linear, Dropout]; only the Linear, index 0, has weights (and dropout is 0).
  torch::nn::ModuleList to_out{nullptr};
};
TORCH_MODULE(Attention);

}  // namespace sit::vae
