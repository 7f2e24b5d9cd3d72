#include <sit/nn/mlp.h>
#include <sit/nn/fused_linear.h>

namespace sit::nn {

MlpImpl::MlpImpl(MlpOptions options_) : options(std::move(options_)) { reset(); }

void MlpImpl::reset() {
  fc1 = register_module("fc1", torch::nn::Linear(options.in_features(), options.hidden_features()));
  fc2 = register_module("fc2", torch::nn::Linear(options.hidden_features(), options.in_features()));
}

void MlpImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::Mlp(in_features=" << options.in_features()
         << ", hidden_features=" << options.hidden_features() << ")";
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return fused_linear(fc2, torch::gelu(fused_linear(fc1, x), "tanh"));
}

}  // namespace sit::nn
