#pragma once
// odeint: the ODE solvers the official SiT samples with, ported from torchdiffeq 0.2.5 step for
// step (torchdiffeq/_impl: fixed_grid.py, rk_common.py, dopri5.py, bosh3.py, adaptive_heun.py,
// misc.py, interp.py) so that states, accepted/rejected steps and evaluation counts match.
//
// Conventions kept from torchdiffeq:
//  - Fixed-grid solvers step between consecutive points of t, doing time arithmetic in t's dtype.
//  - Adaptive solvers keep times in float64 and evaluate stages at times rounded to y's dtype;
//    a stage landing on the step end is evaluated one ulp before it. They step freely (past the
//    output points, even past the last one) and return each output point by 4th-order dense
//    interpolation of the step that contains it.
//  - Tolerances act as float64 tensors of shape (1,), as SiT passes them (atol=[atol]), so error
//    ratios are computed in float64 whatever y's dtype.
//  - A decreasing t integrates in negated time with the field negated.

#include <sit/config/enum_names.h>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace sit::transport {

/// torchdiffeq's solvers, then the multistep solvers (DPM-Solver++, UniPC, Adams-Bashforth), which
/// need the transport's path and so run through Sampler::sample_ode, not odeint; then MeanFlow's
/// steps of an average-velocity model (Sampler::sample_mean_flow).
enum class OdeMethod {
  Euler, Midpoint, Heun2, Heun3, RK4, Dopri5, Bosh3, AdaptiveHeun,
  DpmSolver2M, DpmSolver3M, UniPC2, UniPC3, Adams2, Adams3, Adams4, MeanFlow
};

/// torchdiffeq's names; diffusers' for the multistep ones.
constexpr auto enum_table(OdeMethod) {
  return config::EnumTable<OdeMethod, 16>{"ODE method", {{{OdeMethod::Euler, "euler"}, {OdeMethod::Midpoint, "midpoint"}, {OdeMethod::Heun2, "heun2"}, {OdeMethod::Heun3, "heun3"}, {OdeMethod::RK4, "rk4"}, {OdeMethod::Dopri5, "dopri5"}, {OdeMethod::Bosh3, "bosh3"}, {OdeMethod::AdaptiveHeun, "adaptive_heun"},
      {OdeMethod::DpmSolver2M, "dpmpp_2m"}, {OdeMethod::DpmSolver3M, "dpmpp_3m"}, {OdeMethod::UniPC2, "unipc"}, {OdeMethod::UniPC3, "unipc3"}, {OdeMethod::Adams2, "adams2"}, {OdeMethod::Adams3, "adams3"}, {OdeMethod::Adams4, "adams4"}, {OdeMethod::MeanFlow, "meanflow"}}}};
}
bool is_adaptive(OdeMethod method);
/// One model evaluation per step: the multistep solvers.
bool is_multistep(OdeMethod method);

/// dy/dt = func(t, y); t is a 0-dim tensor of y's dtype and device.
using OdeFunc = std::function<torch::Tensor(const torch::Tensor& t, const torch::Tensor& y)>;

/// The norm of scaled errors that adaptive solvers compare with 1 (default: RMS over all
/// elements). y of several parts, concatenated, takes the max of the parts' RMS, as torchdiffeq
/// does for tuple states.
using ErrorNorm = std::function<torch::Tensor(const torch::Tensor& scaled_error)>;

struct OdeintOptions {
  TORCH_ARG(OdeMethod, method) = OdeMethod::Dopri5;
  TORCH_ARG(double, rtol) = 1e-7;
  TORCH_ARG(double, atol) = 1e-9;
  TORCH_ARG(ErrorNorm, norm) = nullptr;
  /// Also return y at every point of t.
  TORCH_ARG(bool, trajectory) = false;
};

struct OdeintResult {
  torch::Tensor final;       // y at t[-1], shaped like y0
  torch::Tensor trajectory;  // (T, *y0.shape) when asked for, y at every t (y0 first)
  int64_t function_evaluations = 0;
  int64_t accepted_steps = 0;
  int64_t rejected_steps = 0;  // adaptive solvers only
};

/// Solve dy/dt = func(t, y), y(t[0]) = y0 at the points of the 1-D, strictly monotone t.
/// y0 must be float32 or float64; method one of torchdiffeq's.
OdeintResult odeint(const OdeFunc& func, const torch::Tensor& y0, const torch::Tensor& t,
                    const OdeintOptions& options = {});

/// max over parts of RMS(scaled_error[part]) for a state made of the given parts' sizes,
/// concatenated in that order.
ErrorNorm mixed_rms_norm(std::vector<int64_t> part_sizes);

}  // namespace sit::transport
