#pragma once
// The time grids a fixed-step ODE solver steps on, over the sampling interval [t0, t1] of SiT's
// clock (t = 0 noise, t = 1 data, noise level sigma = 1 - t on the Linear path):
//
//  - Uniform: linspace(t0, t1), the official grid; with a time shift s the points move as SD3's
//    shift moves noise levels, sigma' = s sigma / (1 + (s - 1) sigma), applied to the position
//    along the interval, so the ends stay put and s > 1 spends more steps near noise.
//    LightningDiT's `timestep_shift` a maps t to a t / (1 + (a - 1) t), which is s = 1 / a here
//    (its 0.3 is s = 3.33).
//  - EDM: Karras et al. (2022) eq. 5, the rho-schedule from sigma_max = 80 to sigma_min = 0.002,
//    taken on the Linear path's noise-to-signal ratio (1 - t) / t, so t = 1 / (1 + ratio); the
//    first and last points are the interval's ends. Dense near both ends for rho > 1. A shift
//    applies to it as to the uniform grid.
//
// Grids are float32, as the official linspace; a decreasing interval (data to noise) gets the
// increasing grid of [t1, t0] reversed.

#include <sit/config/fields.h>
#include <torch/torch.h>

namespace sit::transport {

enum class TimeGrid { Uniform, EDM };

constexpr auto enum_table(TimeGrid) {
  return config::EnumTable<TimeGrid, 2>{"time grid", {{{TimeGrid::Uniform, "uniform"}, {TimeGrid::EDM, "edm"}}}};
}

struct TimeGridOptions {
  /// The official linspace grid.
  bool is_uniform() const { return kind_ == TimeGrid::Uniform && shift_ == 1.0; }

  TORCH_ARG(TimeGrid, kind) = TimeGrid::Uniform;
  /// SD3's shift s of the noise level (1: none).
  TORCH_ARG(double, shift) = 1.0;
  /// The EDM grid's rho.
  TORCH_ARG(double, rho) = 7.0;

 public:
  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("time_grid", self.kind(),
          "fixed-step time grid: uniform (the official) or edm (Karras' rho-schedule on the noise-to-signal ratio)");
    field("time_shift", self.shift(),
          "SD3's shift s of the noise level sigma = 1 - t: s > 1 spends more steps near noise "
          "(LightningDiT's timestep_shift a is s = 1/a)",
          config::positive);
    field("rho", self.rho(), "rho of --time-grid edm", config::positive);
  }
};

/// (points,) float32 from t0 to t1, strictly monotone; points >= 2. Throws ConfigError for a
/// non-positive shift or rho.
torch::Tensor sampling_grid(double t0, double t1, int64_t points, const TimeGridOptions& options = {});

}  // namespace sit::transport
