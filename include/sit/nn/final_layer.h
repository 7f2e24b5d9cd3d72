#pragma once
// FinalLayer: modulated layer norm (or LightningDiT's RMSNorm) and the linear map from tokens to
// patch pixels.

#include <torch/torch.h>

namespace sit::nn {

struct FinalLayerOptions {
  FinalLayerOptions(int64_t hidden_size, int64_t patch_size, int64_t out_channels)
      : hidden_size_(hidden_size), patch_size_(patch_size), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(int64_t, patch_size);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(bool, use_rmsnorm) = false;  // LightningDiT's FinalLayer: norm_final an RMSNorm
};

class FinalLayerImpl : public torch::nn::Cloneable<FinalLayerImpl> {
 public:
  explicit FinalLayerImpl(FinalLayerOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, T, D), c: (N, D) -> (N, T, patch_size^2 * out_channels).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c);

  FinalLayerOptions options;
  torch::nn::AnyModule norm_final;  // LayerNorm without affine parameters, or RMSNorm
  torch::nn::Linear linear{nullptr};
  torch::nn::Sequential adaLN_modulation{nullptr};  // SiLU, Linear(D, 2 D)
};
TORCH_MODULE(FinalLayer);

}  // namespace sit::nn
