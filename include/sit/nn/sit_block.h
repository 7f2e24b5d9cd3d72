#pragma once
// SiTBlock: a transformer block with adaptive layer norm zero (adaLN-Zero) conditioning.

#include <sit/nn/attention.h>
#include <sit/nn/mlp.h>

namespace sit::nn {

struct SiTBlockOptions {
  SiTBlockOptions(int64_t hidden_size, int64_t num_heads)
      : hidden_size_(hidden_size), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
};

/// Attention and Mlp on adaLN-modulated inputs, each added back through a gate; the six
/// modulation vectors (shift, scale, gate for each) come from the condition c.
class SiTBlockImpl : public torch::nn::Cloneable<SiTBlockImpl> {
 public:
  explicit SiTBlockImpl(SiTBlockOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, T, D), c: (N, D) -> (N, T, D).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c);

  SiTBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr};
  Attention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
  torch::nn::Sequential adaLN_modulation{nullptr};  // SiLU, Linear(D, 6 D)
};
TORCH_MODULE(SiTBlock);

}  // namespace sit::nn
