#include <sit/nn/final_layer.h>
#include "nn/fused_linear.h"
#include "nn/adaln_norm.h"

namespace sit::nn {

FinalLayerImpl::FinalLayerImpl(FinalLayerOptions options_) : options(std::move(options_)) {
  reset();
}

void FinalLayerImpl::reset() {
  int64_t D = options.hidden_size(), p = options.patch_size();
  norm_final = adaln_norm(D, options.use_rmsnorm());
  register_module("norm_final", norm_final.ptr());
  linear = register_module("linear", torch::nn::Linear(D, p * p * options.out_channels()));
  adaLN_modulation = register_module(
      "adaLN_modulation", torch::nn::Sequential(torch::nn::SiLU(), torch::nn::Linear(D, 2 * D)));
}

void FinalLayerImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::FinalLayer(hidden_size=" << options.hidden_size()
         << ", patch_size=" << options.patch_size() << ", out_channels=" << options.out_channels()
         << (options.use_rmsnorm() ? ", use_rmsnorm=true" : "") << ")";
}

torch::Tensor FinalLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& c) {
  auto mod = adaLN_modulation->forward(c).chunk(2, 1);  // shift, scale: (N, D)
  return fused_linear(linear, norm_modulate(norm_final, x, mod[0], mod[1]));
}

}  // namespace sit::nn
