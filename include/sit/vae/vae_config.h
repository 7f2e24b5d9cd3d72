#pragma once
// The configuration of diffusers' AutoencoderKL (its config.json), with the Stable Diffusion VAE
// (sd-vae-ft-ema / sd-vae-ft-mse) as the default.

#include <string>
#include <vector>

#include <torch/arg.h>

namespace sit::vae {

struct AutoencoderKLOptions {
  TORCH_ARG(int64_t, in_channels) = 3;
  TORCH_ARG(int64_t, out_channels) = 3;
  TORCH_ARG(int64_t, latent_channels) = 4;
  /// One down (and one up) block per entry; every block but the last halves (doubles) the size.
  TORCH_ARG(std::vector<int64_t>, block_out_channels) = std::vector<int64_t>{128, 256, 512, 512};
  /// ResNet blocks per down block; the up blocks have one more.
  TORCH_ARG(int64_t, layers_per_block) = 2;
  TORCH_ARG(int64_t, norm_num_groups) = 32;
  /// The diffusion model sees latent * scaling_factor; encode/decode never apply it.
  TORCH_ARG(double, scaling_factor) = 0.18215;
  TORCH_ARG(bool, use_quant_conv) = true;
  TORCH_ARG(bool, use_post_quant_conv) = true;
  TORCH_ARG(bool, mid_block_add_attention) = true;

 public:  // (TORCH_ARG leaves the access private)
  /// Spatial downsampling factor of the encoder: 2^(blocks - 1) (8 for SD's VAE).
  int64_t downsample_factor() const;
};

/// Parses the text of a diffusers config.json; `source` names it in errors. Fields that do not
/// change the computation in float32 (sample_size, force_upcast, ...) are ignored; block types
/// other than DownEncoderBlock2D / UpDecoderBlock2D and activations other than silu are errors.
AutoencoderKLOptions parse_vae_config(const std::string& json, const std::string& source);

/// Reads and parses a config.json file.
AutoencoderKLOptions read_vae_config(const std::string& path);

}  // namespace sit::vae
