#pragma once
// The multistep solvers of the probability-flow ODE (not installed): one model evaluation per
// step, reusing the evaluations of earlier steps.
//
//  - DPM-Solver++ 2M / 3M (Lu et al. 2022), the data-prediction form as diffusers'
//    DPMSolverMultistepScheduler runs it on flow sigmas: exponential integrators in
//    lambda = log(alpha_t / sigma_t) on the data prediction D = E[x1 | x_t].
//  - UniPC (Zhao et al. 2023), the bh2 variant on the data prediction: a UniP predictor of order p
//    and a UniC corrector that raises it by one with the next step's evaluation (order p + 1).
//  - Adams-Bashforth 2-4 on the velocity in t, with the coefficients of the step sizes at hand.
//
// Orders rise over the first steps as history accumulates. Points where lambda is infinite (t = 0,
// pure noise: alpha = 0; t = 1, data: sigma = 0) are exact for a first-order step and give no
// slope, so the step from one and the step into the other are first order; so are the last step
// and (3rd order) the one before it below 15 steps, diffusers' lower_order_final.

#include <sit/transport/odeint.h>
#include <sit/transport/path.h>

#include <functional>
#include <vector>

namespace sit::transport::detail {

/// dx/dt at (t, x): x (N, ...).
using VelocityFn = std::function<torch::Tensor(double t, const torch::Tensor& x)>;

/// Integrates from x0 over `times` (increasing for DPM-Solver++ and UniPC), one velocity
/// evaluation at every point but the last.
OdeintResult integrate_multistep(OdeMethod method, const Path& path, const VelocityFn& velocity,
                                 const torch::Tensor& x0, const std::vector<double>& times,
                                 bool trajectory);

}  // namespace sit::transport::detail
