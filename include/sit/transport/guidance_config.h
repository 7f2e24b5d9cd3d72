#pragma once
// Classifier-free guidance as a run asks for it: sample.py's --cfg-scale, plus the guided channels,
// the guidance interval, CFG-Zero* and guidance rescale. The guide of autoguidance is a model, so
// a program loads it and passes it to condition(); the settings here apply to it as to CFG.

#include <sit/config/fields.h>
#include <sit/transport/guidance.h>

#include <optional>
#include <vector>

namespace sit::transport {

struct GuidanceConfig {
  double cfg_scale = 4.0;  // <= 1: no guidance
  bool guide_all_channels = false;
  std::vector<double> cfg_interval = {0.0, 1.0};  // guide for t in [lo, hi]
  bool cfg_zero_star = false;
  std::optional<int64_t> zero_init_steps;  // unset: 1 with cfg_zero_star, else 0
  double guidance_rescale = 0.0;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("cfg_scale", self.cfg_scale, "classifier-free guidance scale (1: none)");
    field("guide_all_channels", self.guide_all_channels, "guide every channel (the official code guides the first 3)");
    field("cfg_interval", self.cfg_interval,
          "guide only for t in [lo, hi], given as lo,hi (an end at 0 or 1 extends past it, as adaptive "
          "solvers evaluate beyond t = 1)");
    field("cfg_zero_star", self.cfg_zero_star,
          "CFG-Zero*: the per-sample optimised scale s* = <cond, uncond> / |uncond|^2, and zero-init");
    field("zero_init_steps", self.zero_init_steps,
          "model calls that return a zero velocity at the start of a run (default: 1 with --cfg-zero-star, "
          "the paper's first step; else 0)");
    field("guidance_rescale", self.guidance_rescale,
          "guidance rescale phi in [0, 1] toward the conditional output's std (Lin et al. 2023; 0: off)");
  }

  bool guided() const { return cfg_scale > 1.0; }
  /// The zero-init calls: zero_init_steps, else 1 with cfg_zero_star, else 0.
  int64_t zero_init_calls() const { return zero_init_steps.value_or(cfg_zero_star ? 1 : 0); }
  /// Throws ConfigError: a negative scale, an interval other than 0 <= lo < hi <= 1, negative
  /// zero-init steps, a rescale outside [0, 1], CFG-Zero*, zero-init or rescale without guidance.
  void validate() const;
  /// Throws ConfigError when zero-init is asked of a model that does not predict velocity (a zero
  /// output of a noise or score model is not a zero velocity).
  void validate_for(ModelType prediction) const;
  /// The guidance of a model whose null label is null_label; nullopt without guidance.
  std::optional<GuidanceOptions> options(int64_t null_label) const;
};

}  // namespace sit::transport
