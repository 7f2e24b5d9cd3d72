#pragma once
// Classifier-free guidance as a run asks for it: sample.py's --cfg-scale, plus the guided channels
// and the guidance interval.

#include <sit/config/fields.h>
#include <sit/transport/guidance.h>

#include <optional>
#include <vector>

namespace sit::transport {

struct GuidanceConfig {
  double cfg_scale = 4.0;  // <= 1: no guidance
  bool guide_all_channels = false;
  std::vector<double> cfg_interval = {0.0, 1.0};  // guide for t in [lo, hi]

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("cfg_scale", self.cfg_scale, "classifier-free guidance scale (1: none)");
    field("guide_all_channels", self.guide_all_channels, "guide every channel (the official code guides the first 3)");
    field("cfg_interval", self.cfg_interval,
          "guide only for t in [lo, hi], given as lo,hi (an end at 0 or 1 extends past it, as adaptive "
          "solvers evaluate beyond t = 1)");
  }

  bool guided() const { return cfg_scale > 1.0; }
  /// Throws ConfigError: a negative scale, an interval other than 0 <= lo < hi <= 1.
  void validate() const;
  /// The guidance of a model whose null label is null_label; nullopt without guidance.
  std::optional<GuidanceOptions> options(int64_t null_label) const;
};

}  // namespace sit::transport
