#pragma once
// Mlp: the transformer feed-forward (timm's Mlp with the tanh GELU SiT uses).

#include <torch/torch.h>

namespace sit::nn {

struct MlpOptions {
  MlpOptions(int64_t in_features, int64_t hidden_features)
      : in_features_(in_features), hidden_features_(hidden_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features);
};

/// fc2(gelu_tanh(fc1(x))).
class MlpImpl : public torch::nn::Cloneable<MlpImpl> {
 public:
  explicit MlpImpl(MlpOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (..., in_features) -> (..., in_features).
  torch::Tensor forward(const torch::Tensor& x);

  MlpOptions options;
  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace sit::nn
