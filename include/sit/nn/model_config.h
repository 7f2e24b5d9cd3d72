#pragma once
// What SiT a run builds: one of the 12 presets, or (model "") the free dimensions below; the data
// decide input size, channels and classes.

#include <sit/config/fields.h>
#include <sit/nn/sit.h>

#include <array>
#include <string>

namespace sit::nn {

struct ModelConfig {
  std::string model = "SiT-XL/2";  // a preset; "" takes the free dimensions
  int64_t patch_size = 2;
  int64_t depth = 28;
  int64_t hidden_size = 1152;
  int64_t num_heads = 16;
  double mlp_ratio = 4.0;
  double class_dropout_prob = 0.1;
  bool learn_sigma = true;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("model", self.model, "preset (SiT-S/2 ... SiT-XL/8), or '' for the free dimensions");
    field("patch_size", self.patch_size, "free model: patch size");
    field("depth", self.depth, "free model: SiT blocks");
    field("hidden_size", self.hidden_size, "free model: token width");
    field("num_heads", self.num_heads, "free model: attention heads");
    field("mlp_ratio", self.mlp_ratio, "MLP width / hidden size");
    field("class_dropout_prob", self.class_dropout_prob, "label dropout of classifier-free guidance training");
    field("learn_sigma", self.learn_sigma, "also predict the (unused) sigma channels, as the official models");
  }

  /// The free-dimension keys (patch_size ... num_heads), which a preset fixes.
  static std::array<const char*, 4> free_dimension_keys();

  /// Throws ConfigError for an unknown preset, non-positive sizes, a hidden size the heads don't
  /// divide, a dropout outside [0, 1).
  void validate() const;

  /// The SiT on inputs of shape (C, H, W) with num_classes labels (H = W, divisible by the patch).
  SiTOptions options(std::array<int64_t, 3> shape, int64_t num_classes) const;
};

}  // namespace sit::nn
