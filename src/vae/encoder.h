#pragma once
// The VAE encoder: image -> the parameters (mean, log-variance) of the latent Gaussian.

#include "vae/blocks.h"
#include <sit/vae/vae_config.h>

namespace sit::vae {

/// conv_in -> down_blocks -> mid_block -> conv_norm_out -> SiLU -> conv_out (2 latent_channels).
class EncoderImpl : public torch::nn::Cloneable<EncoderImpl> {
 public:
  explicit EncoderImpl(AutoencoderKLOptions options);
  void reset() override;

  /// x: (N, in_channels, H, W) -> (N, 2 latent_channels, H / f, W / f), f the downsample factor.
  torch::Tensor forward(const torch::Tensor& x);

  AutoencoderKLOptions options;
  torch::nn::Conv2d conv_in{nullptr};
  torch::nn::ModuleList down_blocks{nullptr};
  UNetMidBlock2D mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
  torch::nn::Conv2d conv_out{nullptr};
};
TORCH_MODULE(Encoder);

}  // namespace sit::vae
