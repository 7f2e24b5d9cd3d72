#include "vae/decoder.h"

namespace sit::vae {

DecoderImpl::DecoderImpl(AutoencoderKLOptions options_) : options(std::move(options_)) { reset(); }

void DecoderImpl::reset() {
  const auto& channels = options.block_out_channels();
  TORCH_CHECK(!channels.empty(), "Decoder: block_out_channels must not be empty");
  int64_t groups = options.norm_num_groups();
  std::vector<int64_t> reversed(channels.rbegin(), channels.rend());
  conv_in = register_module(
      "conv_in",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(options.latent_channels(), reversed[0], 3).padding(1)));
  // Registered before mid_block, as diffusers does, so state_dict() has its key order.
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  mid_block = register_module(
      "mid_block", UNetMidBlock2D(UNetMidBlock2DOptions(reversed[0]).groups(groups).add_attention(
                       options.mid_block_add_attention())));
  int64_t previous = reversed[0];
  for (size_t i = 0; i < reversed.size(); ++i) {
    bool last = i + 1 == reversed.size();
    up_blocks->push_back(UpDecoderBlock2D(BlockOptions(previous, reversed[i], options.layers_per_block() + 1)
                                              .groups(groups)
                                              .add_sampler(!last)));
    previous = reversed[i];
  }
  conv_norm_out = register_module(
      "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, previous).eps(1e-6)));
  conv_out = register_module(
      "conv_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(previous, options.out_channels(), 3).padding(1)));
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& z) {
  auto h = mid_block(conv_in(z));
  for (const auto& block : *up_blocks) h = block->as<UpDecoderBlock2DImpl>()->forward(h);
  return conv_out(torch::silu(conv_norm_out(h)));
}

}  // namespace sit::vae
