#pragma once
// REPA (Yu et al. 2025, Representation Alignment for Generation; sihyun-yu/REPA): a projector MLP
// maps the SiT's tokens after block repa_depth to a frozen encoder's width, and the loss adds
// repa_proj_coeff times the mean negative cosine similarity of projected and encoder tokens to the
// flow loss. The projector is a training-only module (models/sit.py's build_mlp, projectors[0]).

#include <sit/config/fields.h>

#include <torch/torch.h>

#include <string>

namespace sit::repa {

/// Defaults are REPA's train.py (--encoder-depth 8, --proj-coeff 0.5) and models/sit.py
/// (projector_dim 2048). REPA is off while `encoder` is empty.
struct RepaOptions {
  TORCH_ARG(std::string, encoder) = "";
  TORCH_ARG(int64_t, depth) = 8;
  TORCH_ARG(int64_t, projector_dim) = 2048;
  TORCH_ARG(double, proj_coeff) = 0.5;

 public:
  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("repa_encoder", self.encoder(),
          "REPA's teacher: classifier:FILE (sit-eval train-classifier's) or dinov2-vit-s|b|l:FILE "
          "(dinov2_vit*14_pretrain.pth); empty: no REPA");
    field("repa_depth", self.depth(), "REPA: align the tokens after this block (1-indexed, REPA's --encoder-depth)",
          config::positive);
    field("repa_projector_dim", self.projector_dim(), "REPA: hidden width of the projector MLP", config::positive);
    field("repa_proj_coeff", self.proj_coeff(), "REPA: weight lambda of the alignment loss", config::non_negative);
  }

  bool enabled() const { return !encoder_.empty(); }

  /// Throws ConfigError for a setting out of range, an encoder that is not
  /// "classifier:FILE" or "dinov2-vit-s|b|l:FILE" with FILE present, or a depth beyond the
  /// model's `model_depth`.
  void validate(int64_t model_depth) const;
};

/// REPA's build_mlp: Linear(hidden_size, projector_dim), SiLU, Linear(projector_dim,
/// projector_dim), SiLU, Linear(projector_dim, z_dim), applied per token: (N, T, D) -> (N, T, z_dim).
/// Its linears start as the SiT's (xavier-uniform weights, zero biases), drawn from the default
/// generator. State-dict keys "0.weight", "2.weight", "4.weight" (REPA's "projectors.0." prefix is
/// kProjectorPrefix).
torch::nn::Sequential build_projector(int64_t hidden_size, int64_t projector_dim, int64_t z_dim);

/// Where REPA's SiT keeps its (first) projector in a state dict.
inline constexpr const char* kProjectorPrefix = "projectors.0.";

/// REPA's projection loss (loss.py, one encoder): the mean over samples and tokens of
/// -cos(z, z_tilde). z: (N, T, C) encoder tokens, z_tilde: (N, T, C) projected tokens -> a scalar.
torch::Tensor projection_loss(const torch::Tensor& z, const torch::Tensor& z_tilde);

}  // namespace sit::repa
