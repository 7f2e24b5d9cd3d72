#pragma once
// Internals shared by odeint's fixed-grid and adaptive solvers (not installed).

#include <sit/transport/odeint.h>

#include <vector>

namespace sit::transport::detail {

/// v rounded to float when `single`: how a time held in a float32 tensor comes out. Doing an
/// operation in double and rounding once gives the float32 result exactly for + - * /.
inline double round_to(double v, bool single) {
  return single ? static_cast<double>(static_cast<float>(v)) : v;
}

/// The vector field as torchdiffeq's wrappers call it: the time is cast to y's dtype, nudged one
/// ulp down on request (Perturb.PREV), and, for a decreasing grid, negated with the field
/// (_ReverseFunc). Counts the evaluations.
class VectorField {
 public:
  VectorField(const OdeFunc& func, const torch::Tensor& y0, bool reversed);

  torch::Tensor operator()(double t, const torch::Tensor& y, bool perturb_prev = false);

  /// v rounded to y's dtype.
  double round(double v) const { return round_to(v, single_); }
  bool single() const { return single_; }
  int64_t evaluations() const { return evaluations_; }

 private:
  const OdeFunc& func_;
  torch::TensorOptions options_;
  bool single_;
  bool reversed_;
  int64_t evaluations_ = 0;
};

/// Integrates over `times` (increasing, already negated when reversed). `times_single`: the grid
/// was float32, whose arithmetic fixed-grid solvers reproduce.
OdeintResult integrate_fixed_grid(VectorField& field, const torch::Tensor& y0,
                                  const std::vector<double>& times, bool times_single,
                                  const OdeintOptions& options);

OdeintResult integrate_adaptive(VectorField& field, const torch::Tensor& y0,
                                const std::vector<double>& times, const OdeintOptions& options);

}  // namespace sit::transport::detail
