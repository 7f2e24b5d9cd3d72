#pragma once
// The VAE's blocks: DownEncoderBlock2D, UNetMidBlock2D and UpDecoderBlock2D, with their
// Downsample2D and Upsample2D.

#include "vae/attention.h"
#include "vae/resnet_block.h"

namespace sit::vae {

/// Halves H and W: zero pad right and bottom by one, then a 3x3 conv with stride 2, no padding.
class Downsample2DImpl : public torch::nn::Cloneable<Downsample2DImpl> {
 public:
  explicit Downsample2DImpl(int64_t channels);
  void reset() override;
  /// x: (N, C, H, W) -> (N, C, ceil(H / 2), ceil(W / 2)).
  torch::Tensor forward(const torch::Tensor& x);

  int64_t channels;
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample2D);

/// Doubles H and W: nearest-neighbour upsampling, then a 3x3 conv.
class Upsample2DImpl : public torch::nn::Cloneable<Upsample2DImpl> {
 public:
  explicit Upsample2DImpl(int64_t channels);
  void reset() override;
  /// x: (N, C, H, W) -> (N, C, 2H, 2W).
  torch::Tensor forward(const torch::Tensor& x);

  int64_t channels;
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample2D);

struct BlockOptions {
  BlockOptions(int64_t in_channels, int64_t out_channels, int64_t num_layers)
      : in_channels_(in_channels), out_channels_(out_channels), num_layers_(num_layers) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, num_layers);
  TORCH_ARG(int64_t, groups) = 32;
  /// Down blocks: end with a Downsample2D; up blocks: with an Upsample2D.
  TORCH_ARG(bool, add_sampler) = true;
};

/// num_layers ResNet blocks, then optionally downsamplers.0.
class DownEncoderBlock2DImpl : public torch::nn::Cloneable<DownEncoderBlock2DImpl> {
 public:
  explicit DownEncoderBlock2DImpl(BlockOptions options);
  void reset() override;
  /// x: (N, in_channels, H, W) -> (N, out_channels, H / 2 or H, W / 2 or W).
  torch::Tensor forward(torch::Tensor x);

  BlockOptions options;
  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList downsamplers{nullptr};  // absent on the last block
};
TORCH_MODULE(DownEncoderBlock2D);

/// num_layers ResNet blocks, then optionally upsamplers.0.
class UpDecoderBlock2DImpl : public torch::nn::Cloneable<UpDecoderBlock2DImpl> {
 public:
  explicit UpDecoderBlock2DImpl(BlockOptions options);
  void reset() override;
  /// x: (N, in_channels, H, W) -> (N, out_channels, 2H or H, 2W or W).
  torch::Tensor forward(torch::Tensor x);

  BlockOptions options;
  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList upsamplers{nullptr};  // absent on the last block
};
TORCH_MODULE(UpDecoderBlock2D);

struct UNetMidBlock2DOptions {
  explicit UNetMidBlock2DOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, groups) = 32;
  TORCH_ARG(bool, add_attention) = true;
};

/// resnets.0 -> attentions.0 -> resnets.1, at constant width and size.
class UNetMidBlock2DImpl : public torch::nn::Cloneable<UNetMidBlock2DImpl> {
 public:
  explicit UNetMidBlock2DImpl(UNetMidBlock2DOptions options);
  void reset() override;
  /// x: (N, C, H, W) -> (N, C, H, W).
  torch::Tensor forward(const torch::Tensor& x);

  UNetMidBlock2DOptions options;
  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList attentions{nullptr};  // empty without add_attention
};
TORCH_MODULE(UNetMidBlock2D);

}  // namespace sit::vae
