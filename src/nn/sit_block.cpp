#include "nn/layer_norm_modulate.h"
#include "nn/modulate.h"
#include <sit/nn/sit_block.h>

namespace sit::nn {

namespace {
torch::nn::LayerNorm plain_layer_norm(int64_t hidden_size) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({hidden_size}).elementwise_affine(false).eps(1e-6));
}
}  // namespace

SiTBlockImpl::SiTBlockImpl(SiTBlockOptions options_) : options(std::move(options_)) { reset(); }

void SiTBlockImpl::reset() {
  int64_t D = options.hidden_size();
  norm1 = register_module("norm1", plain_layer_norm(D));
  attn = register_module("attn", Attention(AttentionOptions(D, options.num_heads())));
  norm2 = register_module("norm2", plain_layer_norm(D));
  auto mlp_hidden_dim = static_cast<int64_t>(static_cast<double>(D) * options.mlp_ratio());
  mlp = register_module("mlp", Mlp(MlpOptions(D, mlp_hidden_dim)));
  adaLN_modulation = register_module(
      "adaLN_modulation", torch::nn::Sequential(torch::nn::SiLU(), torch::nn::Linear(D, 6 * D)));
}

void SiTBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::SiTBlock(hidden_size=" << options.hidden_size()
         << ", num_heads=" << options.num_heads() << ")";
}

torch::Tensor SiTBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& c) {
  auto mod = adaLN_modulation->forward(c).chunk(6, 1);  // 6 x (N, D)
  const auto &shift_msa = mod[0], &scale_msa = mod[1], &gate_msa = mod[2];
  const auto &shift_mlp = mod[3], &scale_mlp = mod[4], &gate_mlp = mod[5];
  // norm1 and norm2 have no parameters; layer_norm_modulate does their work with the modulation.
  auto h = gated_residual(
      x, gate_msa, attn->forward(layer_norm_modulate(x, shift_msa, scale_msa, norm1->options.eps())));
  return gated_residual(
      h, gate_mlp, mlp->forward(layer_norm_modulate(h, shift_mlp, scale_mlp, norm2->options.eps())));
}

}  // namespace sit::nn
