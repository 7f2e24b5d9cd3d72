#pragma once
// diffusers' AutoencoderKL (the Stable Diffusion VAE): images in [-1, 1] <-> latents, with the
// encoder's diagonal Gaussian posterior. Parameter names equal diffusers' state_dict keys.

#include <optional>

#include <ATen/core/Generator.h>

#include <sit/vae/vae_config.h>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>

namespace sit::vae {

class EncoderImpl;  // the building blocks are internal (src/vae/)
class DecoderImpl;

/// The encoder's posterior N(mean, exp(logvar)) per latent element.
struct DiagonalGaussianDistribution {
  /// moments: (N, 2C, h, w), the mean then the log-variance; the latter is clamped to [-30, 20].
  explicit DiagonalGaussianDistribution(const torch::Tensor& moments);

  torch::Tensor mean;    // (N, C, h, w)
  torch::Tensor logvar;  // (N, C, h, w)
  torch::Tensor std() const { return torch::exp(0.5 * logvar); }
  /// mean + std * eps, eps ~ N(0, I) drawn from `generator` (the default generator when none).
  torch::Tensor sample(std::optional<at::Generator> generator = std::nullopt) const;
};

class AutoencoderKLImpl : public torch::nn::Cloneable<AutoencoderKLImpl> {
 public:
  explicit AutoencoderKLImpl(AutoencoderKLOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, in_channels, H, W) in [-1, 1] -> the posterior over (N, latent_channels, H/f, W/f).
  /// slice_size > 0 runs the encoder on batch slices of that size (peak memory of one slice).
  DiagonalGaussianDistribution encode(const torch::Tensor& x, int64_t slice_size = 0);

  /// z: (N, latent_channels, h, w), as the decoder sees it (a diffusion model's output divided
  /// by scaling_factor) -> (N, out_channels, f h, f w). slice_size as for encode.
  torch::Tensor decode(const torch::Tensor& z, int64_t slice_size = 0);

  /// decode(encode(x).mean), diffusers' forward with sample_posterior=False.
  torch::Tensor forward(const torch::Tensor& x);

  AutoencoderKLOptions options;
  std::shared_ptr<EncoderImpl> encoder;
  std::shared_ptr<DecoderImpl> decoder;
  torch::nn::Conv2d quant_conv{nullptr};       // 1x1, 2C -> 2C (absent without use_quant_conv)
  torch::nn::Conv2d post_quant_conv{nullptr};  // 1x1, C -> C

 private:
  torch::Tensor encode_moments(const torch::Tensor& x);  // (N, 2C, h, w)
  torch::Tensor decode_batch(const torch::Tensor& z);
};
TORCH_MODULE(AutoencoderKL);

}  // namespace sit::vae
