#include "vae/resnet_block.h"

namespace sit::vae {

namespace nnf = torch::nn::functional;

ResnetBlock2DImpl::ResnetBlock2DImpl(ResnetBlock2DOptions options_) : options(std::move(options_)) {
  reset();
}

void ResnetBlock2DImpl::reset() {
  int64_t in = options.in_channels(), out = options.out_channels();
  auto norm = [&](int64_t channels) {
    return torch::nn::GroupNorm(torch::nn::GroupNormOptions(options.groups(), channels).eps(options.eps()));
  };
  auto conv3x3 = [](int64_t from, int64_t to) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(from, to, 3).padding(1));
  };
  norm1 = register_module("norm1", norm(in));
  conv1 = register_module("conv1", conv3x3(in, out));
  norm2 = register_module("norm2", norm(out));
  conv2 = register_module("conv2", conv3x3(out, out));
  if (in != out) {
    conv_shortcut = register_module("conv_shortcut",
                                    torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
  }
}

void ResnetBlock2DImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::vae::ResnetBlock2D(in_channels=" << options.in_channels()
         << ", out_channels=" << options.out_channels() << ", groups=" << options.groups() << ")";
}

torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& x) {
  auto h = conv1(nnf::silu(norm1(x)));
  h = conv2(nnf::silu(norm2(h)));  // (dropout 0)
  auto shortcut = conv_shortcut ? conv_shortcut(x) : x;
  return shortcut + h;
}

}  // namespace sit::vae
