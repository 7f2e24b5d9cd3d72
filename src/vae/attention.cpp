#include "vae/attention.h"

#include <cmath>

namespace sit::vae {

AttentionImpl::AttentionImpl(AttentionOptions options_) : options(std::move(options_)) { reset(); }

void AttentionImpl::reset() {
  int64_t C = options.channels();
  group_norm = register_module(
      "group_norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(options.groups(), C).eps(options.eps())));
  to_q = register_module("to_q", torch::nn::Linear(C, C));
  to_k = register_module("to_k", torch::nn::Linear(C, C));
  to_v = register_module("to_v", torch::nn::Linear(C, C));
  to_out = register_module("to_out", torch::nn::ModuleList(torch::nn::Linear(C, C)));
}

void AttentionImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::vae::Attention(channels=" << options.channels() << ", heads=1)";
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto h = group_norm(x).reshape({N, C, H * W}).transpose(1, 2);  // (N, HW, C)
  auto q = to_q(h), k = to_k(h), v = to_v(h);                      // (N, HW, C)
  torch::Tensor out;
#if TORCH_VERSION_MAJOR >= 2
  out = at::scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1);
#else
  double scale = 1.0 / std::sqrt(static_cast<double>(C));
  auto weights = torch::baddbmm(torch::empty({N, H * W, H * W}, q.options()), q, k.transpose(1, 2),
                                /*beta=*/0, /*alpha=*/scale)
                     .softmax(-1);  // (N, HW, HW)
  out = torch::bmm(weights, v);
#endif
  out = to_out[0]->as<torch::nn::Linear>()->forward(out);          // (N, HW, C)
  return out.transpose(1, 2).reshape({N, C, H, W}) + x;
}

}  // namespace sit::vae
