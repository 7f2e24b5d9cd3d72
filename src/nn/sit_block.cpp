#include "nn/adaln_norm.h"
#include <sit/nn/sit_block.h>
#include <sit/nn/swiglu_ffn.h>

namespace sit::nn {

SiTBlockImpl::SiTBlockImpl(SiTBlockOptions options_) : options(std::move(options_)) { reset(); }

void SiTBlockImpl::reset() {
  int64_t D = options.hidden_size();
  norm1 = adaln_norm(D, options.use_rmsnorm());
  register_module("norm1", norm1.ptr());
  attn = register_module("attn", Attention(AttentionOptions(D, options.num_heads())
                                               .qk_norm(options.use_qknorm())
                                               .use_rmsnorm(options.use_rmsnorm())));
  norm2 = adaln_norm(D, options.use_rmsnorm());
  register_module("norm2", norm2.ptr());
  auto mlp_hidden_dim = static_cast<int64_t>(static_cast<double>(D) * options.mlp_ratio());
  if (options.use_swiglu()) {
    mlp = torch::nn::AnyModule(SwiGLUFFN(SwiGLUFFNOptions(D, swiglu_hidden_features(mlp_hidden_dim))));
  } else {
    mlp = torch::nn::AnyModule(Mlp(MlpOptions(D, mlp_hidden_dim)));
  }
  register_module("mlp", mlp.ptr());
  adaLN_modulation = register_module(
      "adaLN_modulation", torch::nn::Sequential(torch::nn::SiLU(), torch::nn::Linear(D, 6 * D)));
}

void SiTBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::SiTBlock(hidden_size=" << options.hidden_size()
         << ", num_heads=" << options.num_heads();
  if (options.use_qknorm()) stream << ", use_qknorm=true";
  if (options.use_swiglu()) stream << ", use_swiglu=true";
  if (options.use_rmsnorm()) stream << ", use_rmsnorm=true";
  stream << ")";
}

torch::Tensor SiTBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& c,
                                    const VisionRotaryEmbeddingFast& feat_rope) {
  auto mod = adaLN_modulation->forward(c).chunk(6, 1);  // 6 x (N, D)
  const auto &shift_msa = mod[0], &scale_msa = mod[1], &gate_msa = mod[2];
  const auto &shift_mlp = mod[3], &scale_mlp = mod[4], &gate_mlp = mod[5];
  auto h = gated_residual(x, gate_msa, attn->forward(norm_modulate(norm1, x, shift_msa, scale_msa), feat_rope));
  return gated_residual(h, gate_mlp, mlp.forward(norm_modulate(norm2, h, shift_mlp, scale_mlp)));
}

}  // namespace sit::nn
