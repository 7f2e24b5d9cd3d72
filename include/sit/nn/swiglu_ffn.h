#pragma once
// SwiGLUFFN: the gated feed-forward of LightningDiT (its models/swiglu_ffn.py).

#include <torch/torch.h>

namespace sit::nn {

struct SwiGLUFFNOptions {
  SwiGLUFFNOptions(int64_t in_features, int64_t hidden_features)
      : in_features_(in_features), hidden_features_(hidden_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features);
};

/// LightningDiT's SwiGLU width for an Mlp of mlp_hidden_dim = int(mlp_ratio D) hidden features:
/// int(2/3 mlp_hidden_dim), so that w12 and w3 hold as many weights as fc1 and fc2 (3072 for
/// SiT-XL's 4608).
int64_t swiglu_hidden_features(int64_t mlp_hidden_dim);

/// w3(silu(x1) * x2) with (x1, x2) = w12(x) split in halves, x1 first.
class SwiGLUFFNImpl : public torch::nn::Cloneable<SwiGLUFFNImpl> {
 public:
  explicit SwiGLUFFNImpl(SwiGLUFFNOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (..., in_features) -> (..., in_features).
  torch::Tensor forward(const torch::Tensor& x);

  SwiGLUFFNOptions options;
  torch::nn::Linear w12{nullptr};  // in_features -> 2 hidden_features
  torch::nn::Linear w3{nullptr};   // hidden_features -> in_features
};
TORCH_MODULE(SwiGLUFFN);

}  // namespace sit::nn
