#include "nn/pos_embed.h"
#include <sit/nn/sit.h>

namespace sit::nn {

SiTImpl::SiTImpl(SiTOptions options_) : options(std::move(options_)) { reset(); }

void SiTImpl::reset() {
  int64_t D = options.hidden_size();
  TORCH_CHECK(options.depth() > 0, "SiT: depth must be positive, but got ", options.depth());
  x_embedder = register_module(
      "x_embedder", PatchEmbed(PatchEmbedOptions(options.input_size(), options.patch_size(),
                                                 options.in_channels(), D)));
  t_embedder = register_module("t_embedder", TimestepEmbedder(D));
  if (options.meanflow()) h_embedder = register_module("h_embedder", TimestepEmbedder(D));
  y_embedder = register_module(
      "y_embedder",
      LabelEmbedder(LabelEmbedderOptions(options.num_classes(), D, options.class_dropout_prob())));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, x_embedder->num_patches(), D}),
                                 /*requires_grad=*/false);
  if (options.use_rope()) {
    const int64_t head_dim = D / options.num_heads();
    TORCH_CHECK(head_dim % 4 == 0, "SiT: use_rope needs a head dimension divisible by 4, but got ", head_dim);
    feat_rope = register_module(
        "feat_rope", VisionRotaryEmbeddingFast(VisionRotaryEmbeddingFastOptions(
                         head_dim / 2, options.input_size() / options.patch_size())));
  }
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth(); ++i) {
    blocks->push_back(SiTBlock(SiTBlockOptions(D, options.num_heads())
                                   .mlp_ratio(options.mlp_ratio())
                                   .use_qknorm(options.use_qknorm())
                                   .use_swiglu(options.use_swiglu())
                                   .use_rmsnorm(options.use_rmsnorm())));
  }
  final_layer = register_module(
      "final_layer",
      FinalLayer(FinalLayerOptions(D, options.patch_size(), out_channels()).use_rmsnorm(options.use_rmsnorm())));
  initialize_weights();
}

void SiTImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::SiT(input_size=" << options.input_size() << ", patch_size="
         << options.patch_size() << ", in_channels=" << options.in_channels()
         << ", hidden_size=" << options.hidden_size() << ", depth=" << options.depth()
         << ", num_heads=" << options.num_heads() << ", num_classes=" << options.num_classes()
         << ", learn_sigma=" << (options.learn_sigma() ? "true" : "false");
  for (auto [name, on] : {std::pair{"use_rmsnorm", options.use_rmsnorm()}, std::pair{"use_swiglu", options.use_swiglu()},
                          std::pair{"use_rope", options.use_rope()}, std::pair{"use_qknorm", options.use_qknorm()},
                          std::pair{"meanflow", options.meanflow()}}) {
    if (on) stream << ", " << name << "=true";
  }
  stream << ")";
}

int64_t SiTImpl::out_channels() const {
  return options.learn_sigma() ? 2 * options.in_channels() : options.in_channels();
}

void SiTImpl::initialize_weights() {
  torch::NoGradGuard no_grad;
  // Transformer layers: xavier-uniform weights, zero biases.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(linear->weight);
      if (linear->bias.defined()) torch::nn::init::zeros_(linear->bias);
    }
  }
  // Fixed sin-cos pos_embed.
  int64_t grid_size = options.input_size() / options.patch_size();
  pos_embed.copy_(get_2d_sincos_pos_embed(options.hidden_size(), grid_size).unsqueeze(0));
  // Patch embedding initialised like a linear layer (on the (D, C p p) view), not a conv.
  auto w = x_embedder->proj->weight;
  torch::nn::init::xavier_uniform_(w.view({w.size(0), -1}));
  torch::nn::init::zeros_(x_embedder->proj->bias);
  // Label embedding table and timestep MLP.
  torch::nn::init::normal_(y_embedder->embedding_table->weight, 0.0, 0.02);
  torch::nn::init::normal_(t_embedder->mlp[0]->as<torch::nn::Linear>()->weight, 0.0, 0.02);
  torch::nn::init::normal_(t_embedder->mlp[2]->as<torch::nn::Linear>()->weight, 0.0, 0.02);
  if (h_embedder) {
    torch::nn::init::normal_(h_embedder->mlp[0]->as<torch::nn::Linear>()->weight, 0.0, 0.02);
    torch::nn::init::normal_(h_embedder->mlp[2]->as<torch::nn::Linear>()->weight, 0.0, 0.02);
  }
  // Zero-out the adaLN modulations of the blocks, then the output layers.
  for (const auto& block : *blocks) {
    auto modulation = block->as<SiTBlock>()->adaLN_modulation[1]->as<torch::nn::Linear>();
    torch::nn::init::zeros_(modulation->weight);
    torch::nn::init::zeros_(modulation->bias);
  }
  auto final_modulation = final_layer->adaLN_modulation[1]->as<torch::nn::Linear>();
  torch::nn::init::zeros_(final_modulation->weight);
  torch::nn::init::zeros_(final_modulation->bias);
  torch::nn::init::zeros_(final_layer->linear->weight);
  torch::nn::init::zeros_(final_layer->linear->bias);
}

torch::Tensor SiTImpl::unpatchify(const torch::Tensor& x) const {
  int64_t c = out_channels(), p = options.patch_size();
  int64_t h = options.input_size() / p, w = h;
  TORCH_CHECK(x.size(1) == h * w, "unpatchify: expected ", h * w, " tokens, but got ", x.size(1));
  auto patches = x.reshape({x.size(0), h, w, p, p, c});  // n h w p q c
  return patches.permute({0, 5, 1, 3, 2, 4}).reshape({x.size(0), c, h * p, w * p});  // n c h p w q
}

torch::Tensor SiTImpl::forward_keeping(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                                       const c10::optional<torch::Tensor>& force_drop_ids,
                                       const c10::optional<torch::Tensor>& h, int64_t hidden_depth,
                                       torch::Tensor* hidden) {
  TORCH_CHECK(h_embedder || !h.has_value(), "SiT: an interval h needs a MeanFlow model (meanflow=true)");
  auto tokens = x_embedder->forward(x) + pos_embed;  // (N, T, D)
  auto c = t_embedder->forward(t);                   // (N, D)
  if (h_embedder) c = c + h_embedder->forward(h.has_value() ? *h : torch::zeros_like(t));
  c = c + y_embedder->forward(y, is_training(), force_drop_ids);  // (N, D)
  int64_t depth = 0;
  for (const auto& block : *blocks) {
    tokens = block->as<SiTBlock>()->forward(tokens, c, feat_rope);  // (N, T, D)
    if (++depth == hidden_depth) *hidden = tokens;
  }
  tokens = final_layer->forward(tokens, c);  // (N, T, p^2 out_channels)
  return unpatchify(tokens);                 // (N, out_channels, H, W)
}

torch::Tensor SiTImpl::forward_full(const torch::Tensor& x, const torch::Tensor& t,
                                    const torch::Tensor& y,
                                    const c10::optional<torch::Tensor>& force_drop_ids,
                                    const c10::optional<torch::Tensor>& h) {
  return forward_keeping(x, t, y, force_drop_ids, h, /*hidden_depth=*/0, nullptr);
}

torch::Tensor SiTImpl::forward(const torch::Tensor& x, const torch::Tensor& t,
                               const torch::Tensor& y,
                               const c10::optional<torch::Tensor>& force_drop_ids,
                               const c10::optional<torch::Tensor>& h) {
  auto out = forward_full(x, t, y, force_drop_ids, h);
  return options.learn_sigma() ? out.chunk(2, 1)[0] : out;
}

std::pair<torch::Tensor, torch::Tensor> SiTImpl::forward_with_hidden(
    const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y, int64_t depth,
    const c10::optional<torch::Tensor>& force_drop_ids) {
  TORCH_CHECK(depth >= 1 && depth <= options.depth(), "forward_with_hidden: a block 1 to ", options.depth(),
              ", but got ", depth);
  torch::Tensor hidden;
  auto out = forward_keeping(x, t, y, force_drop_ids, c10::nullopt, depth, &hidden);
  return {options.learn_sigma() ? out.chunk(2, 1)[0] : out, hidden};
}

}  // namespace sit::nn
