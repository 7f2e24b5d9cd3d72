#pragma once
// A SiT built from a checkpoint: the architecture inferred from the weights' shapes, the weights
// loaded key for key.

#include <sit/io/state_dict.h>
#include <sit/nn/sit.h>

#include <optional>

namespace sit::nn {

/// What the weights do not determine. The weights fix patch size, channels, hidden size, depth,
/// input size, mlp_ratio, learn_sigma, meanflow (an h_embedder), the LightningDiT block options and the label-table rows; the table holds either
/// num_classes rows or num_classes + 1 with the null row of classifier-free guidance.
struct ArchitectureHints {
  /// Needed when the hidden size is not a preset's (1152, 1024, 768, 384 map to 16, 16, 12, 6)
  /// and no rotary tables (use_rope: feat_rope.freqs_cos, (T, head_dim)) give the head size.
  TORCH_ARG(std::optional<int64_t>, num_heads) = std::nullopt;
  /// When given, the table has a null row iff its row count is num_classes + 1; when not, the
  /// last row is taken as the null row (as every official checkpoint, trained with label dropout).
  TORCH_ARG(std::optional<int64_t>, num_classes) = std::nullopt;
  /// The label dropout used for training when the table has a null row.
  TORCH_ARG(double, class_dropout_prob) = 0.1;
};

/// Options of the SiT whose state dict is `state_dict`; `source` names it in error messages.
SiTOptions infer_sit_options(const io::StateDict& state_dict, const ArchitectureHints& hints = {},
                             const std::string& source = "checkpoint");

/// The SiT's own entries of `state_dict`: REPA's projector ("projectors.*", training-only, which
/// sit-train's REPA checkpoints hold in "model" and REPA's own in "model" and "ema") left out.
io::StateDict without_projectors(const io::StateDict& state_dict);

/// Reads a checkpoint (torch.save or safetensors, see io::read_state_dict), infers the architecture
/// and returns the model with the weights loaded, in eval mode.
SiT load_sit(const std::string& path, const ArchitectureHints& hints = {},
             const io::ReadOptions& read_options = {});

}  // namespace sit::nn
