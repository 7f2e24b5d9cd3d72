#include "vae/blocks.h"

namespace sit::vae {

namespace nnf = torch::nn::functional;

Downsample2DImpl::Downsample2DImpl(int64_t channels_) : channels(channels_) { reset(); }

void Downsample2DImpl::reset() {
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).stride(2)));
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& x) {
  // (left, right, top, bottom): the asymmetric padding of the original LDM encoder.
  return conv(nnf::pad(x, nnf::PadFuncOptions({0, 1, 0, 1})));
}

Upsample2DImpl::Upsample2DImpl(int64_t channels_) : channels(channels_) { reset(); }

void Upsample2DImpl::reset() {
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1)));
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x) {
  auto up = nnf::interpolate(x, nnf::InterpolateFuncOptions()
                                    .scale_factor(std::vector<double>{2.0, 2.0})
                                    .mode(torch::kNearest));
  return conv(up);
}

namespace {

torch::nn::ModuleList resnet_stack(const BlockOptions& options) {
  torch::nn::ModuleList resnets;
  for (int64_t i = 0; i < options.num_layers(); ++i) {
    int64_t in = i == 0 ? options.in_channels() : options.out_channels();
    resnets->push_back(ResnetBlock2D(ResnetBlock2DOptions(in, options.out_channels()).groups(options.groups())));
  }
  return resnets;
}

torch::Tensor run_resnets(const torch::nn::ModuleList& resnets, torch::Tensor x) {
  for (const auto& resnet : *resnets) x = resnet->as<ResnetBlock2DImpl>()->forward(x);
  return x;
}

}  // namespace

DownEncoderBlock2DImpl::DownEncoderBlock2DImpl(BlockOptions options_) : options(std::move(options_)) {
  reset();
}

void DownEncoderBlock2DImpl::reset() {
  resnets = register_module("resnets", resnet_stack(options));
  if (options.add_sampler()) {
    downsamplers = register_module("downsamplers",
                                   torch::nn::ModuleList(Downsample2D(options.out_channels())));
  }
}

torch::Tensor DownEncoderBlock2DImpl::forward(torch::Tensor x) {
  x = run_resnets(resnets, std::move(x));
  if (downsamplers) x = downsamplers[0]->as<Downsample2DImpl>()->forward(x);
  return x;
}

UpDecoderBlock2DImpl::UpDecoderBlock2DImpl(BlockOptions options_) : options(std::move(options_)) {
  reset();
}

void UpDecoderBlock2DImpl::reset() {
  resnets = register_module("resnets", resnet_stack(options));
  if (options.add_sampler()) {
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(Upsample2D(options.out_channels())));
  }
}

torch::Tensor UpDecoderBlock2DImpl::forward(torch::Tensor x) {
  x = run_resnets(resnets, std::move(x));
  if (upsamplers) x = upsamplers[0]->as<Upsample2DImpl>()->forward(x);
  return x;
}

UNetMidBlock2DImpl::UNetMidBlock2DImpl(UNetMidBlock2DOptions options_) : options(std::move(options_)) {
  reset();
}

void UNetMidBlock2DImpl::reset() {
  int64_t C = options.channels();
  auto resnet = [&] { return ResnetBlock2D(ResnetBlock2DOptions(C, C).groups(options.groups())); };
  // diffusers registers attentions first: state_dict() lists them before the resnets.
  attentions = register_module("attentions", torch::nn::ModuleList());
  if (options.add_attention()) attentions->push_back(Attention(AttentionOptions(C).groups(options.groups())));
  resnets = register_module("resnets", torch::nn::ModuleList(resnet(), resnet()));
}

torch::Tensor UNetMidBlock2DImpl::forward(const torch::Tensor& x) {
  auto h = resnets[0]->as<ResnetBlock2DImpl>()->forward(x);
  if (!attentions->is_empty()) h = attentions[0]->as<AttentionImpl>()->forward(h);
  return resnets[1]->as<ResnetBlock2DImpl>()->forward(h);
}

}  // namespace sit::vae
