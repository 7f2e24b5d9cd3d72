#pragma once
// ResnetBlock2D as the VAE uses it (no time embedding).

#include <torch/torch.h>

namespace sit::vae {

struct ResnetBlock2DOptions {
  ResnetBlock2DOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, groups) = 32;
  TORCH_ARG(double, eps) = 1e-6;
};

/// x + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))), the residual through a 1x1 conv_shortcut when
/// the channel count changes.
class ResnetBlock2DImpl : public torch::nn::Cloneable<ResnetBlock2DImpl> {
 public:
  explicit ResnetBlock2DImpl(ResnetBlock2DOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, in_channels, H, W) -> (N, out_channels, H, W).
  torch::Tensor forward(const torch::Tensor& x);

  ResnetBlock2DOptions options;
  torch::nn::GroupNorm norm1{nullptr};
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::GroupNorm norm2{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  torch::nn::Conv2d conv_shortcut{nullptr};  // only when in_channels != out_channels
};
TORCH_MODULE(ResnetBlock2D);

}  // namespace sit::vae
