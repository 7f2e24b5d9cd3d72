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
  /// The free dimensions (which a preset replaces) and the settings of every model.
  SiTOptions architecture;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("model", self.model, "preset (SiT-S/2 ... SiT-XL/8), or '' for the free dimensions");
    SiTOptions::fields(self.architecture, field);
  }

  /// The free-dimension keys (patch_size ... num_heads), which a preset fixes.
  static std::array<const char*, 4> free_dimension_keys();

  /// Throws ConfigError for an unknown preset, non-positive sizes, a hidden size the heads don't
  /// divide (free dimensions), a non-positive MLP ratio, a dropout outside [0, 1).
  void validate() const;

  /// The SiT on inputs of shape (C, H, W) with num_classes labels (H = W, divisible by the patch).
  SiTOptions options(std::array<int64_t, 3> shape, int64_t num_classes) const;
};

}  // namespace sit::nn
