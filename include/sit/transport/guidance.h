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

#include <sit/transport/transport.h>

#include <optional>

namespace sit::transport {

/// Which output channels guidance mixes: the official code guides the first 3 ("for exact
/// reproducibility"); the standard form guides all of them.
enum class GuidedChannels { FirstThree, All };

/// The labelled model: x: (B, C, H, W), t: (B,), y: (B,) int64 labels -> (B, C, H, W), e.g.
/// SiT::forward (the output without its learned-sigma half).
using LabelledForward = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t,
                                                    const torch::Tensor& y)>;

struct GuidanceOptions {
  GuidanceOptions(double cfg_scale, int64_t null_label)
      : cfg_scale_(cfg_scale), null_label_(null_label) {}
  TORCH_ARG(double, cfg_scale);
  /// The label of the unconditional embedding (num_classes for SiT); unused with a guide.
  TORCH_ARG(int64_t, null_label);
  TORCH_ARG(GuidedChannels, guided_channels) = GuidedChannels::FirstThree;
  TORCH_ARG(double, t_lo) = 0.0;
  TORCH_ARG(double, t_hi) = 1.0;
  /// CFG-Zero*: mix with the per-sample optimised scale s*.
  TORCH_ARG(bool, optimized_scale) = false;
  /// CFG-Zero*'s zero-init: how many calls, from the guided model's creation, return zeros (a zero
  /// velocity for velocity models; the programs refuse it for other predictions). Counted in
  /// model calls, so a multi-stage solver's step spends several; one guided model per run.
  TORCH_ARG(int64_t, zero_init_steps) = 0;
  /// Guidance rescale phi in [0, 1] (0: off).
  TORCH_ARG(double, guidance_rescale) = 0.0;
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

/// forward with labels y: (N,), guided as `guidance` says (nullopt: unguided), by the null label
/// or, given a `guide`, by the guide (autoguidance). Make one per sampling run: zero-init counts
/// the calls of the model it returns.
ConditionedModel condition(LabelledForward forward, torch::Tensor y,
                           const std::optional<GuidanceOptions>& guidance,
                           LabelledForward guide = nullptr);

}  // namespace sit::transport
