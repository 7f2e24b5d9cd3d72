#pragma once
// Multi-head self-attention (timm's Attention as SiT uses it: qkv with bias, no q/k norm), with
// LightningDiT's q/k norm and rotary embedding as options.

#include <sit/nn/rotary_embedding.h>

#include <torch/torch.h>

namespace sit::nn {

struct AttentionOptions {
  AttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  /// q_norm and k_norm over each head's channels: LayerNorm (affine, eps 1e-5), or with
  /// use_rmsnorm an RMSNorm (LightningDiT's Attention).
  TORCH_ARG(bool, qk_norm) = false;
  TORCH_ARG(bool, use_rmsnorm) = false;
};

/// softmax(q k^T * head_dim^-0.5) v over num_heads heads, then the output projection; q and k
/// normalised (qk_norm), then rotated (a rotary embedding given), first.
class AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
 public:
  explicit AttentionImpl(AttentionOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, T, D) -> (N, T, D); rope: LightningDiT's feat_rope, or null.
  torch::Tensor forward(const torch::Tensor& x, const VisionRotaryEmbeddingFast& rope = nullptr);

  AttentionOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::AnyModule q_norm, k_norm;  // LayerNorm or RMSNorm (head_dim); empty without qk_norm
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(Attention);

}  // namespace sit::nn
