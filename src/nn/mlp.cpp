#include <sit/nn/mlp.h>

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
  return fc2->forward(torch::gelu(fc1->forward(x), "tanh"));
}

}  // namespace sit::nn
