// torchdiffeq's fixed-grid solvers (fixed_grid.py, rk_common.py): one step between consecutive
// grid points, written in torchdiffeq's operation order. Time arithmetic happens in the grid's
// dtype, where a Python constant multiplying a float32 time is itself rounded to float32 first.
#include "transport/solvers.h"

namespace sit::transport::detail {

namespace {

struct GridStep {
  double t0, dt, t1;
  bool single;  // the grid is float32
  /// t0 + dt * c, in the grid's arithmetic.
  double at(double c) const {
    return round_to(t0 + round_to(dt * round_to(c, single), single), single);
  }
};

// Returns dy = y1 - y0 over one step.
torch::Tensor step(OdeMethod method, VectorField& f, const GridStep& s, const torch::Tensor& y0) {
  const double dt = s.dt;
  auto k1 = f(s.t0, y0);
  switch (method) {
    case OdeMethod::Euler:
      return k1 * dt;
    case OdeMethod::Midpoint: {
      const double half_dt = round_to(0.5 * dt, s.single);
      auto y_mid = y0 + k1 * half_dt;
      return f(round_to(s.t0 + half_dt, s.single), y_mid) * dt;
    }
    case OdeMethod::Heun2: {
      // Butcher tableau [[0], [1, 1], [0, 1/2, 1/2]]: the second stage at t0 + dt * 1, which in
      // float32 need not be t1.
      auto k2 = f(s.at(1.0), y0 + k1 * dt * 1.0);
      return (k1 * 0.5 + k2 * 0.5) * dt;
    }
    case OdeMethod::Heun3: {
      // Butcher tableau [[0], [1/3, 1/3], [2/3, 0, 2/3], [0, 1/4, 0, 3/4]].
      auto k2 = f(s.at(1.0 / 3), y0 + k1 * dt * (1.0 / 3));
      auto k3 = f(s.at(2.0 / 3), y0 + (k1 * 0.0 + k2 * (2.0 / 3)) * dt);
      return (k1 * 0.25 + k2 * 0.0 + k3 * 0.75) * dt;
    }
    case OdeMethod::RK4: {
      // torchdiffeq's rk4 is the 3/8 rule (rk4_alt_step_func), not the classic 1/6 rule.
      auto k2 = f(s.at(1.0 / 3), y0 + k1 * dt * (1.0 / 3));
      auto k3 = f(s.at(2.0 / 3), y0 + (k2 - k1 * (1.0 / 3)) * dt);
      auto k4 = f(s.t1, y0 + (k1 - k2 + k3) * dt);
      return (k1 + 3 * (k2 + k3) + k4) * dt * 0.125;
    }
    default:
      TORCH_CHECK(false, "integrate_fixed_grid: not a fixed-grid method");
  }
}

}  // namespace

OdeintResult integrate_fixed_grid(VectorField& field, const torch::Tensor& y0,
                                  const std::vector<double>& times, bool times_single,
                                  const OdeintOptions& options) {
  OdeintResult result;
  std::vector<torch::Tensor> trajectory{y0};
  auto y = y0;
  for (size_t i = 1; i < times.size(); ++i) {
    const double t0 = times[i - 1], t1 = times[i];
    GridStep s{t0, round_to(t1 - t0, times_single), t1, times_single};
    y = y + step(options.method(), field, s, y);
    if (options.trajectory()) trajectory.push_back(y);
  }
  result.final = y;
  if (options.trajectory()) result.trajectory = torch::stack(trajectory);
  result.function_evaluations = field.evaluations();
  result.accepted_steps = static_cast<int64_t>(times.size()) - 1;
  return result;
}

}  // namespace sit::transport::detail
