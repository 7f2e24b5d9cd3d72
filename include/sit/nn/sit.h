#pragma once
// SiT: the Scalable Interpolant Transformer (the `SiT` class of the official models.py).

#include <sit/config/fields.h>
#include <sit/nn/final_layer.h>
#include <sit/nn/label_embedder.h>
#include <sit/nn/patch_embed.h>
#include <sit/nn/rotary_embedding.h>
#include <sit/nn/sit_block.h>
#include <sit/nn/timestep_embedder.h>

namespace sit::nn {

/// Defaults are the official constructor's (those of SiT-XL/2 on 256x256 ImageNet latents).
struct SiTOptions {
  TORCH_ARG(int64_t, input_size) = 32;
  TORCH_ARG(int64_t, patch_size) = 2;
  TORCH_ARG(int64_t, in_channels) = 4;
  TORCH_ARG(int64_t, hidden_size) = 1152;
  TORCH_ARG(int64_t, depth) = 28;
  TORCH_ARG(int64_t, num_heads) = 16;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(double, class_dropout_prob) = 0.1;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(bool, learn_sigma) = true;
  /// MeanFlow's average-velocity network u(z_t, t, h, y) (Geng et al. 2025): a second timestep
  /// embedder, h_embedder, for the interval h, c = t_embedder(t) + h_embedder(h) + y_embedder(y).
  TORCH_ARG(bool, meanflow) = false;
  /// LightningDiT's block options (hustvl/LightningDiT, models/lightningdit.py), each off by
  /// default: RMSNorm for norm1, norm2, norm_final (and the q/k norms); SwiGLU feed-forward;
  /// 2-D rotary embedding of q and k (the sin-cos pos_embed kept); q/k norm.
  TORCH_ARG(bool, use_rmsnorm) = false;
  TORCH_ARG(bool, use_swiglu) = false;
  TORCH_ARG(bool, use_rope) = false;
  TORCH_ARG(bool, use_qknorm) = false;

 public:
  /// The settings a run chooses (train.py's and the programs' flags); the data give input_size,
  /// in_channels and num_classes.
  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("patch_size", self.patch_size(), "free model: patch size", config::positive);
    field("depth", self.depth(), "free model: SiT blocks", config::positive);
    field("hidden_size", self.hidden_size(), "free model: token width", config::positive);
    field("num_heads", self.num_heads(), "free model: attention heads", config::positive);
    field("mlp_ratio", self.mlp_ratio(), "MLP width / hidden size", config::positive);
    field("class_dropout_prob", self.class_dropout_prob(), "label dropout of classifier-free guidance training",
          config::half_open(0, 1));
    field("learn_sigma", self.learn_sigma(), "also predict the (unused) sigma channels, as the official models");
    field("meanflow", self.meanflow(),
          "MeanFlow: an average-velocity model u(z, t, h) with a second timestep embedder for the interval h, "
          "trained by the MeanFlow loss (docs/meanflow.md)");
    field("use_rmsnorm", self.use_rmsnorm(), "LightningDiT block: RMSNorm for the block, final and q/k norms");
    field("use_swiglu", self.use_swiglu(), "LightningDiT block: SwiGLU feed-forward (hidden int(2/3 mlp_ratio D))");
    field("use_rope", self.use_rope(), "LightningDiT block: 2-D rotary embedding of q and k (head dim a multiple of 4)");
    field("use_qknorm", self.use_qknorm(), "LightningDiT block: normalise q and k per head");
  }
};

class SiTImpl : public torch::nn::Cloneable<SiTImpl> {
 public:
  explicit SiTImpl(SiTOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// The official initialisation: xavier-uniform linears with zero bias, the patch projection
  /// initialised as a linear, sin-cos pos_embed, N(0, 0.02) label table and timestep MLP weights,
  /// zeroed adaLN modulations and output layer. A MeanFlow model's h_embedder is initialised as
  /// t_embedder (MeanFlow's models_dit.py).
  void initialize_weights();

  /// x: (N, out_channels, P, P) <- (N, T, patch_size^2 * out_channels).
  torch::Tensor unpatchify(const torch::Tensor& x) const;

  /// x: (N, C, H, W) inputs, t: (N,) times, y: (N,) int64 labels -> (N, out_channels, H, W),
  /// out_channels = 2 C with learn_sigma (the learned-sigma half included). force_drop_ids: (N,),
  /// when given, says which labels become the null label instead of the embedder's own draws
  /// (LabelEmbedder.token_drop's argument), so a trainer can draw them per example.
  /// (models.py's forward_with_cfg is transport::classifier_free_guidance_doubled.)
  /// h: (N,) the interval of a MeanFlow model, u(x, t, h) the average velocity from t to t + h;
  /// unset, h = 0: the instantaneous velocity u(x, t, 0).
  torch::Tensor forward_full(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                             const c10::optional<torch::Tensor>& force_drop_ids = c10::nullopt,
                             const c10::optional<torch::Tensor>& h = c10::nullopt);

  /// As forward_full, without the learned-sigma half: (N, C, H, W).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                        const c10::optional<torch::Tensor>& force_drop_ids = c10::nullopt,
                        const c10::optional<torch::Tensor>& h = c10::nullopt);

  /// As forward, and the tokens after block `depth` (1-indexed, REPA's encoder_depth), which
  /// REPA's projector aligns with an encoder's: ((N, C, H, W), (N, T, D)).
  std::pair<torch::Tensor, torch::Tensor> forward_with_hidden(
      const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y, int64_t depth,
      const c10::optional<torch::Tensor>& force_drop_ids = c10::nullopt);

  int64_t out_channels() const;

  SiTOptions options;
  PatchEmbed x_embedder{nullptr};
  TimestepEmbedder t_embedder{nullptr};
  TimestepEmbedder h_embedder{nullptr};  // MeanFlow's interval embedder; null otherwise
  LabelEmbedder y_embedder{nullptr};
  torch::Tensor pos_embed;  // (1, T, D), fixed (requires_grad = false)
  VisionRotaryEmbeddingFast feat_rope{nullptr};  // with use_rope: the tables of every block
  torch::nn::ModuleList blocks{nullptr};
  FinalLayer final_layer{nullptr};

 private:
  // forward_full, keeping the tokens after block `hidden_depth` (1-indexed; 0: none) in *hidden.
  torch::Tensor forward_keeping(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                                const c10::optional<torch::Tensor>& force_drop_ids,
                                const c10::optional<torch::Tensor>& h, int64_t hidden_depth, torch::Tensor* hidden);
};
TORCH_MODULE(SiT);

}  // namespace sit::nn
