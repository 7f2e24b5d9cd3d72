#include <sit/nn/swiglu_ffn.h>
#include "nn/fused_linear.h"

namespace sit::nn {

int64_t swiglu_hidden_features(int64_t mlp_hidden_dim) {
  return static_cast<int64_t>(2.0 / 3.0 * static_cast<double>(mlp_hidden_dim));
}

SwiGLUFFNImpl::SwiGLUFFNImpl(SwiGLUFFNOptions options_) : options(std::move(options_)) { reset(); }

void SwiGLUFFNImpl::reset() {
  w12 = register_module("w12", torch::nn::Linear(options.in_features(), 2 * options.hidden_features()));
  w3 = register_module("w3", torch::nn::Linear(options.hidden_features(), options.in_features()));
}

void SwiGLUFFNImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::SwiGLUFFN(in_features=" << options.in_features()
         << ", hidden_features=" << options.hidden_features() << ")";
}

torch::Tensor SwiGLUFFNImpl::forward(const torch::Tensor& x) {
  auto x12 = fused_linear(w12, x).chunk(2, -1);  // 2 x (..., hidden_features)
  return fused_linear(w3, torch::silu(x12[0]) * x12[1]);
}

}  // namespace sit::nn
