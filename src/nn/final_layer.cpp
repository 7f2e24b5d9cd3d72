#include <sit/nn/final_layer.h>
#include "nn/fused_linear.h"
#include "nn/layer_norm_modulate.h"

namespace sit::nn {

FinalLayerImpl::FinalLayerImpl(FinalLayerOptions options_) : options(std::move(options_)) {
  reset();
}

void FinalLayerImpl::reset() {
  int64_t D = options.hidden_size(), p = options.patch_size();
  norm_final = register_module(
      "norm_final",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).elementwise_affine(false).eps(1e-6)));
  linear = register_module("linear", torch::nn::Linear(D, p * p * options.out_channels()));
  adaLN_modulation = register_module(
      "adaLN_modulation", torch::nn::Sequential(torch::nn::SiLU(), torch::nn::Linear(D, 2 * D)));
}

void FinalLayerImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::FinalLayer(hidden_size=" << options.hidden_size()
         << ", patch_size=" << options.patch_size() << ", out_channels=" << options.out_channels()
         << ")";
}

torch::Tensor FinalLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& c) {
  auto mod = adaLN_modulation->forward(c).chunk(2, 1);  // shift, scale: (N, D)
  return fused_linear(linear, layer_norm_modulate(x, mod[0], mod[1], norm_final->options.eps()));
}

}  // namespace sit::nn
