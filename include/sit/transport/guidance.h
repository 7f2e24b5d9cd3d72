#pragma once
// Classifier-free guidance: out = uncond + cfg_scale (cond - uncond), from one forward pass over
// the conditional and the null-label batch. Two forms:
//
//  - classifier_free_guidance: the state is the conditional batch x: (N, ...). Each call runs the
//    forward on [x; x] with labels [y; null] and returns the guided conditional half (N, ...).
//
//  - classifier_free_guidance_doubled: the official sample.py form (SiT.forward_with_cfg). The
//    state is [z; z]: (2N, ...) and the labels [y; null]; each call runs the forward on the first
//    half twice and returns both halves with guided channels equal, the rest each half's own
//    output; the caller keeps the first half of the final state. With every channel guided both
//    forms give the same samples; with the official first-3-channels guidance the second half's
//    other channels follow the unconditional output, which an adaptive solver's error norm over
//    the whole state sees, so only this form takes the official adaptive steps.
//
// Outside the guidance interval [t_lo, t_hi] a call runs the conditional forward alone (both
// halves of the doubled form get the conditional output). The interval is tested on t clamped to
// [0, 1]: adaptive solvers call the model past the ends of the span they integrate (dopri5 over
// [0, 1] up to t ~ 3) and the official forward_with_cfg guides every call, so an interval that
// reaches 0 or 1 goes on beyond it and the default [0, 1] guides every call.
//
// Variants, all on the guided channels of each sample and composable with both forms:
//  - autoguidance (Karras et al. 2024): with a guide forward, "uncond" is the guide's output for
//    the same labels y (a weaker model of the same data), out = guide + cfg_scale (cond - guide);
//    the null label is not used. Two forwards per call (the models differ).
//  - CFG-Zero*'s optimised scale (Fan et al. 2025): s* = <cond, uncond> / ||uncond||^2 per
//    sample, out = s* uncond + cfg_scale (cond - s* uncond).
//  - CFG-Zero*'s zero-init: the first zero_init_steps calls of the model return zeros.
//  - guidance rescale (Lin et al. 2023, eq. 15-16): out = phi out std(cond) / std(out) +
//    (1 - phi) out, the standard deviations per sample.

#include <sit/config/fields.h>
#include <sit/transport/transport.h>

#include <optional>
#include <vector>

namespace sit::transport {

/// The labelled model: x: (B, C, H, W), t: (B,), y: (B,) int64 labels -> (B, C, H, W), e.g.
/// SiT::forward (the output without its learned-sigma half).
using LabelledForward = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t,
                                                    const torch::Tensor& y)>;

/// Classifier-free guidance as sample.py's --cfg-scale, with the guided channels, the guidance
/// interval, CFG-Zero* and guidance rescale: the settings of the programs' guidance group and of
/// the functions below. The guide of autoguidance is a model, passed beside them.
struct GuidanceOptions {
  GuidanceOptions() = default;
  GuidanceOptions(double cfg_scale, int64_t null_label) : cfg_scale_(cfg_scale), null_label_(null_label) {}

  TORCH_ARG(double, cfg_scale) = 4.0;  // sample.py's; <= 1: no guidance
  /// The label of the unconditional embedding: the model's (num_classes for SiT), not a setting;
  /// unused with a guide.
  TORCH_ARG(int64_t, null_label) = 0;
  /// Guide every channel; the official code guides the first 3 ("for exact reproducibility").
  TORCH_ARG(bool, guide_all_channels) = false;
  /// Guide for t in [lo, hi] only (t clamped to [0, 1] first: see above).
  TORCH_ARG(std::vector<double>, cfg_interval) = std::vector<double>{0.0, 1.0};
  /// CFG-Zero*: mix with the per-sample optimised scale s*, and zero-init (1 call by default).
  TORCH_ARG(bool, cfg_zero_star) = false;
  /// CFG-Zero*'s zero-init: how many calls, from the guided model's creation, return zeros (a zero
  /// velocity for velocity models; validate_for refuses it for other predictions). Counted in
  /// model calls, so a multi-stage solver's step spends several; one guided model per run.
  /// Unset: 1 with cfg_zero_star, else 0.
  TORCH_ARG(std::optional<int64_t>, zero_init_steps) = std::nullopt;
  /// Guidance rescale phi in [0, 1] (0: off).
  TORCH_ARG(double, guidance_rescale) = 0.0;

 public:
  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("cfg_scale", self.cfg_scale(), "classifier-free guidance scale (1: none)", config::non_negative);
    field("guide_all_channels", self.guide_all_channels(),
          "guide every channel (the official code guides the first 3)");
    field("cfg_interval", self.cfg_interval(),
          "guide only for t in [lo, hi], given as lo,hi (an end at 0 or 1 extends past it, as adaptive "
          "solvers evaluate beyond t = 1)");
    field("cfg_zero_star", self.cfg_zero_star(),
          "CFG-Zero*: the per-sample optimised scale s* = <cond, uncond> / |uncond|^2, and zero-init");
    field("zero_init_steps", self.zero_init_steps(),
          "model calls that return a zero velocity at the start of a run (default: 1 with --cfg-zero-star, "
          "the paper's first step; else 0)",
          config::non_negative);
    field("guidance_rescale", self.guidance_rescale(),
          "guidance rescale phi in [0, 1] toward the conditional output's std (Lin et al. 2023; 0: off)",
          config::closed(0, 1));
  }

  bool guided() const { return cfg_scale() > 1.0; }
  /// The zero-init calls: zero_init_steps, else 1 with cfg_zero_star, else 0.
  int64_t zero_init_calls() const { return zero_init_steps().value_or(cfg_zero_star() ? 1 : 0); }
  /// Throws ConfigError: a negative scale, an interval other than 0 <= lo < hi <= 1, negative
  /// zero-init steps, a rescale outside [0, 1], CFG-Zero*, zero-init or rescale without guidance.
  void validate() const;
  /// Throws ConfigError when zero-init is asked of a model that does not predict velocity (a zero
  /// output of a noise or score model is not a zero velocity).
  void validate_for(ModelType prediction) const;
};

/// A model over the conditional batch x: (N, ...) with labels y: (N,). With `guide`, autoguidance
/// by it instead of the null label.
ModelFn classifier_free_guidance(LabelledForward forward, torch::Tensor y, GuidanceOptions options,
                                 LabelledForward guide = nullptr);

/// A model over the doubled batch [z; z]: (2N, ...) with labels y: (N,) (the null labels are
/// appended here). With `guide`, the second half follows the guide's output for labels y.
ModelFn classifier_free_guidance_doubled(LabelledForward forward, torch::Tensor y,
                                         GuidanceOptions options, LabelledForward guide = nullptr);

/// What a sampler integrates to draw samples of classes y: the labelled model with y, or with
/// guidance the official doubled form, whose state is [z; z] and whose samples are its first half.
struct ConditionedModel {
  ModelFn model;
  bool doubled = false;

  /// The initial state for noise z: (N, ...): z, or [z; z].
  torch::Tensor initial_state(const torch::Tensor& z) const;
  /// The N samples of a final state of initial_state's shape.
  torch::Tensor samples(const torch::Tensor& state) const;
};

/// forward with labels y: (N,), guided as `guidance` says (nullopt, or a scale <= 1: unguided), by
/// its null label or, given a `guide`, by the guide (autoguidance). Make one per sampling run: zero-init counts
/// the calls of the model it returns.
ConditionedModel condition(LabelledForward forward, torch::Tensor y,
                           const std::optional<GuidanceOptions>& guidance,
                           LabelledForward guide = nullptr);

}  // namespace sit::transport
