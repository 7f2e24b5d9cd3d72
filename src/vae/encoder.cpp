#include "vae/encoder.h"

namespace sit::vae {

EncoderImpl::EncoderImpl(AutoencoderKLOptions options_) : options(std::move(options_)) { reset(); }

void EncoderImpl::reset() {
  const auto& channels = options.block_out_channels();
  TORCH_CHECK(!channels.empty(), "Encoder: block_out_channels must not be empty");
  int64_t groups = options.norm_num_groups();
  conv_in = register_module(
      "conv_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels(), channels[0], 3).padding(1)));
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  int64_t previous = channels[0];
  for (size_t i = 0; i < channels.size(); ++i) {
    bool last = i + 1 == channels.size();
    down_blocks->push_back(DownEncoderBlock2D(BlockOptions(previous, channels[i], options.layers_per_block())
                                                  .groups(groups)
                                                  .add_sampler(!last)));
    previous = channels[i];
  }
  mid_block = register_module(
      "mid_block", UNetMidBlock2D(UNetMidBlock2DOptions(previous).groups(groups).add_attention(
                       options.mid_block_add_attention())));
  conv_norm_out = register_module(
      "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, previous).eps(1e-6)));
  conv_out = register_module(
      "conv_out",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(previous, 2 * options.latent_channels(), 3).padding(1)));
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& x) {
  auto h = conv_in(x);
  for (const auto& block : *down_blocks) h = block->as<DownEncoderBlock2DImpl>()->forward(h);
  h = mid_block(h);
  return conv_out(torch::silu(conv_norm_out(h)));
}

}  // namespace sit::vae
