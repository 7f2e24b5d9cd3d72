#include <sit/nn/rms_norm.h>

namespace sit::nn {

RMSNormImpl::RMSNormImpl(RMSNormOptions options_) : options(std::move(options_)) { reset(); }

void RMSNormImpl::reset() { weight = register_parameter("weight", torch::ones({options.dim()})); }

void RMSNormImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::RMSNorm(" << options.dim() << ", eps=" << options.eps() << ")";
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  auto x32 = x.to(torch::kFloat32);
  auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + options.eps());
  return normed.to(x.scalar_type()) * weight;
}

}  // namespace sit::nn
