#include <sit/vae/autoencoder_kl.h>

#include "vae/decoder.h"
#include "vae/encoder.h"

namespace sit::vae {

DiagonalGaussianDistribution::DiagonalGaussianDistribution(const torch::Tensor& moments) {
  TORCH_CHECK(moments.dim() == 4 && moments.size(1) % 2 == 0,
              "DiagonalGaussianDistribution: expected moments (N, 2C, h, w), but got ", moments.sizes());
  auto halves = moments.chunk(2, 1);
  mean = halves[0];
  logvar = halves[1].clamp(-30.0, 20.0);
}

torch::Tensor DiagonalGaussianDistribution::sample(std::optional<at::Generator> generator) const {
  auto eps = generator ? torch::randn(mean.sizes(), *generator, mean.options())
                       : torch::randn(mean.sizes(), mean.options());
  return mean + std() * eps;
}

AutoencoderKLImpl::AutoencoderKLImpl(AutoencoderKLOptions options_) : options(std::move(options_)) {
  reset();
}

void AutoencoderKLImpl::reset() {
  int64_t C = options.latent_channels();
  encoder = register_module("encoder", std::make_shared<EncoderImpl>(options));
  decoder = register_module("decoder", std::make_shared<DecoderImpl>(options));
  if (options.use_quant_conv()) {
    quant_conv = register_module("quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * C, 2 * C, 1)));
  }
  if (options.use_post_quant_conv()) {
    post_quant_conv = register_module("post_quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(C, C, 1)));
  }
}

void AutoencoderKLImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::vae::AutoencoderKL(block_out_channels=" << torch::IntArrayRef(options.block_out_channels())
         << ", layers_per_block=" << options.layers_per_block() << ", latent_channels=" << options.latent_channels()
         << ")";
}

namespace {

// fn applied to batch slices of `slice_size` rows (the whole batch when 0), results concatenated:
// only one slice's activations are alive at a time.
template <typename Fn>
torch::Tensor over_slices(const torch::Tensor& x, int64_t slice_size, Fn fn) {
  if (slice_size <= 0 || x.size(0) <= slice_size) return fn(x);
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < x.size(0); begin += slice_size) {
    parts.push_back(fn(x.slice(0, begin, std::min(x.size(0), begin + slice_size))));
  }
  return torch::cat(parts);
}

}  // namespace

torch::Tensor AutoencoderKLImpl::encode_moments(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(), "AutoencoderKL: encode expects images (N, ",
              options.in_channels(), ", H, W), but got ", x.sizes());
  auto moments = encoder->forward(x);
  return quant_conv ? quant_conv(moments) : moments;
}

DiagonalGaussianDistribution AutoencoderKLImpl::encode(const torch::Tensor& x, int64_t slice_size) {
  return DiagonalGaussianDistribution(
      over_slices(x, slice_size, [this](const torch::Tensor& part) { return encode_moments(part); }));
}

torch::Tensor AutoencoderKLImpl::decode_batch(const torch::Tensor& z) {
  TORCH_CHECK(z.dim() == 4 && z.size(1) == options.latent_channels(), "AutoencoderKL: decode expects latents (N, ",
              options.latent_channels(), ", h, w), but got ", z.sizes());
  return decoder->forward(post_quant_conv ? post_quant_conv(z) : z);
}

torch::Tensor AutoencoderKLImpl::decode(const torch::Tensor& z, int64_t slice_size) {
  return over_slices(z, slice_size, [this](const torch::Tensor& part) { return decode_batch(part); });
}

torch::Tensor AutoencoderKLImpl::forward(const torch::Tensor& x) { return decode(encode(x).mean); }

}  // namespace sit::vae
