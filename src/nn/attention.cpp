#include <sit/nn/attention.h>
#include <sit/nn/rms_norm.h>
#include "nn/cpu_attention.h"
#include "nn/forward_ad.h"
#include "nn/fused_linear.h"

#include <cmath>

namespace sit::nn {

namespace {

// q or k (N, H, T, head_dim) through its q/k norm. A LayerNorm takes them in its weight's dtype:
// as CUDA autocast does (layer_norm is on its float32 list), and as LibTorch 1.13's CPU layer_norm
// needs under bf16 autocast (it rejects a bf16 input with float32 weights).
torch::Tensor qk_normalised(torch::nn::AnyModule& norm, const torch::Tensor& x) {
  if (const auto* layer_norm = norm.ptr()->as<torch::nn::LayerNorm>()) {
    return norm.forward(x.to(layer_norm->weight.scalar_type()));
  }
  return norm.forward(x);
}

}  // namespace

AttentionImpl::AttentionImpl(AttentionOptions options_) : options(std::move(options_)) {
  reset();
}

void AttentionImpl::reset() {
  TORCH_CHECK(options.dim() % options.num_heads() == 0,
              "Attention: dim must be divisible by num_heads, but got dim ", options.dim(),
              " and num_heads ", options.num_heads());
  qkv = register_module(
      "qkv", torch::nn::Linear(torch::nn::LinearOptions(options.dim(), 3 * options.dim())
                                   .bias(options.qkv_bias())));
  proj = register_module("proj", torch::nn::Linear(options.dim(), options.dim()));
  if (options.qk_norm()) {
    const int64_t head_dim = options.dim() / options.num_heads();
    auto norm = [&]() -> torch::nn::AnyModule {
      if (options.use_rmsnorm()) return torch::nn::AnyModule(RMSNorm(head_dim));
      return torch::nn::AnyModule(torch::nn::LayerNorm(torch::nn::LayerNormOptions({head_dim})));
    };
    q_norm = norm();
    k_norm = norm();
    register_module("q_norm", q_norm.ptr());
    register_module("k_norm", k_norm.ptr());
  }
}

void AttentionImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::Attention(dim=" << options.dim() << ", num_heads=" << options.num_heads();
  if (options.qk_norm()) stream << ", qk_norm=" << (options.use_rmsnorm() ? "RMSNorm" : "LayerNorm");
  stream << ")";
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const VisionRotaryEmbeddingFast& rope) {
  int64_t N = x.size(0), T = x.size(1), D = x.size(2);
  int64_t H = options.num_heads(), head_dim = D / H;
  auto qkv_out = fused_linear(qkv, x);  // (N, T, 3 D)
#if TORCH_VERSION_MAJOR < 2
  if (!options.qk_norm() && !rope && cpu_attention_applies(qkv_out)) {
    return fused_linear(proj, cpu_attention(qkv_out, H));
  }
#endif
  auto qkv_heads = qkv_out.reshape({N, T, 3, H, head_dim}).permute({2, 0, 3, 1, 4});
  auto q = qkv_heads[0], k = qkv_heads[1], v = qkv_heads[2];  // (N, H, T, head_dim)
  if (options.qk_norm()) {
    q = qk_normalised(q_norm, q);
    k = qk_normalised(k_norm, k);
  }
  if (rope) {
    q = rope->forward(q);
    k = rope->forward(k);
  }
  torch::Tensor out;
#if TORCH_VERSION_MAJOR >= 2
  if (!has_tangent(qkv_heads)) out = at::scaled_dot_product_attention(q, k, v);  // no forward-mode formula
#endif
  if (!out.defined()) {  // LibTorch 1.13, or a JVP
    q = q * (1.0 / std::sqrt(static_cast<double>(head_dim)));
    auto attn = torch::matmul(q, k.transpose(-2, -1)).softmax(-1);  // (N, H, T, T)
    out = torch::matmul(attn, v);
  }
  return fused_linear(proj, out.transpose(1, 2).reshape({N, T, D}));
}

}  // namespace sit::nn
