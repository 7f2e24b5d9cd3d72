#pragma once
// The VAE decoder: latent -> image.

#include "vae/blocks.h"
#include <sit/vae/vae_config.h>

namespace sit::vae {

/// conv_in -> mid_block -> up_blocks (channels reversed) -> conv_norm_out -> SiLU -> conv_out.
class DecoderImpl : public torch::nn::Cloneable<DecoderImpl> {
 public:
  explicit DecoderImpl(AutoencoderKLOptions options);
  void reset() override;

  /// z: (N, latent_channels, h, w) -> (N, out_channels, f h, f w).
  torch::Tensor forward(const torch::Tensor& z);

  AutoencoderKLOptions options;
  torch::nn::Conv2d conv_in{nullptr};
  UNetMidBlock2D mid_block{nullptr};
  torch::nn::ModuleList up_blocks{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
  torch::nn::Conv2d conv_out{nullptr};
};
TORCH_MODULE(Decoder);

}  // namespace sit::vae
