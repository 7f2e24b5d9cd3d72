#pragma once
// Multi-head self-attention (timm's Attention as SiT uses it: qkv with bias, no q/k norm).

#include <torch/torch.h>

namespace sit::nn {

struct AttentionOptions {
  AttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
};

/// softmax(q k^T * head_dim^-0.5) v over num_heads heads, then the output projection.
class AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
 public:
  explicit AttentionImpl(AttentionOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, T, D) -> (N, T, D).
  torch::Tensor forward(const torch::Tensor& x);

  AttentionOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(Attention);

}  // namespace sit::nn
