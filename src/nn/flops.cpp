#include <sit/nn/flops.h>
#include <sit/nn/swiglu_ffn.h>

namespace sit::nn {

double forward_flops(const SiTOptions& o, int64_t batch_size) {
  const double D = static_cast<double>(o.hidden_size());
  const double P = static_cast<double>(o.patch_size());
  const double T = static_cast<double>(o.input_size() / o.patch_size()) *
                   static_cast<double>(o.input_size() / o.patch_size());
  const double C = static_cast<double>(o.in_channels());
  const double C_out = o.learn_sigma() ? 2 * C : C;
  const auto mlp_hidden_dim = static_cast<int64_t>(D * o.mlp_ratio());
  // fc1 and fc2 (D -> M -> D), or SwiGLU's w12 and w3 (D -> 2 H, H -> D).
  const double mlp = o.use_swiglu() ? 3 * D * static_cast<double>(swiglu_hidden_features(mlp_hidden_dim))
                                    : 2 * D * static_cast<double>(mlp_hidden_dim);
  const double frequency_embedding_size = 256;  // TimestepEmbedder's default

  double patch_embed = T * (P * P * C) * D;
  double t_embedder = frequency_embedding_size * D + D * D;
  double block = D * 6 * D                    // adaLN_modulation
                 + T * D * 3 * D              // qkv
                 + 2 * T * T * D              // q k^T and attn v, all heads
                 + T * D * D                  // proj
                 + T * mlp;                   // the feed-forward
  double final_layer = D * 2 * D + T * D * (P * P * C_out);
  double multiply_adds = patch_embed + t_embedder + static_cast<double>(o.depth()) * block + final_layer;
  return 2 * multiply_adds * static_cast<double>(batch_size);
}

}  // namespace sit::nn
