#pragma once
// SiTBlock: a transformer block with adaptive layer norm zero (adaLN-Zero) conditioning; with
// options, LightningDiT's block (RMSNorm, SwiGLU, q/k norm, rotary embedding).

#include <sit/nn/attention.h>
#include <sit/nn/mlp.h>

namespace sit::nn {

struct SiTBlockOptions {
  SiTBlockOptions(int64_t hidden_size, int64_t num_heads)
      : hidden_size_(hidden_size), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  /// LightningDiTBlock's options (each off: SiT's block).
  TORCH_ARG(bool, use_qknorm) = false;
  TORCH_ARG(bool, use_swiglu) = false;
  TORCH_ARG(bool, use_rmsnorm) = false;
};

/// Attention and Mlp on adaLN-modulated inputs, each added back through a gate; the six
/// modulation vectors (shift, scale, gate for each) come from the condition c.
class SiTBlockImpl : public torch::nn::Cloneable<SiTBlockImpl> {
 public:
  explicit SiTBlockImpl(SiTBlockOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, T, D), c: (N, D) -> (N, T, D); feat_rope: the model's rotary embedding, or null.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c,
                        const VisionRotaryEmbeddingFast& feat_rope = nullptr);

  SiTBlockOptions options;
  torch::nn::AnyModule norm1;  // LayerNorm without affine parameters, or RMSNorm (use_rmsnorm)
  Attention attn{nullptr};
  torch::nn::AnyModule norm2;
  /// Mlp (fc1, fc2: D -> int(mlp_ratio D) -> D), or SwiGLUFFN (use_swiglu; w12, w3:
  /// D -> 2 H, H -> D with H = int(2/3 int(mlp_ratio D))).
  torch::nn::AnyModule mlp;
  torch::nn::Sequential adaLN_modulation{nullptr};  // SiLU, Linear(D, 6 D)
};
TORCH_MODULE(SiTBlock);

}  // namespace sit::nn
