// torchdiffeq's adaptive Runge-Kutta solvers (rk_common.py RKAdaptiveStepsizeODESolver with the
// dopri5, bosh3 and adaptive_heun tableaus; misc.py step control; interp.py dense output).
// Times and step sizes are float64; stage times, stage states and interpolation coefficients are
// in y's dtype, as there.
#include <cmath>

#include "transport/solvers.h"

namespace sit::transport::detail {

namespace {

// An explicit Runge-Kutta pair: stage times alpha, stage weights beta, solution weights c_sol,
// error weights c_error (solution minus embedded solution), and mid, the weights giving
// y(t0 + dt / 2) for the dense output.
struct ButcherTableau {
  std::vector<double> alpha;
  std::vector<std::vector<double>> beta;
  std::vector<double> c_sol;
  std::vector<double> c_error;
  std::vector<double> mid;
  int order;
};

// Dormand-Prince 5(4) with Shampine's midpoint weights (dopri5.py).
const ButcherTableau& dormand_prince_shampine() {
  static const ButcherTableau tableau{
      {1 / 5., 3 / 10., 4 / 5., 8 / 9., 1., 1.},
      {{1 / 5.},
       {3 / 40., 9 / 40.},
       {44 / 45., -56 / 15., 32 / 9.},
       {19372 / 6561., -25360 / 2187., 64448 / 6561., -212 / 729.},
       {9017 / 3168., -355 / 33., 46732 / 5247., 49 / 176., -5103 / 18656.},
       {35 / 384., 0., 500 / 1113., 125 / 192., -2187 / 6784., 11 / 84.}},
      {35 / 384., 0., 500 / 1113., 125 / 192., -2187 / 6784., 11 / 84., 0.},
      {35 / 384. - 1951 / 21600., 0., 500 / 1113. - 22642 / 50085., 125 / 192. - 451 / 720.,
       -2187 / 6784. - -12231 / 42400., 11 / 84. - 649 / 6300., -1. / 60.},
      {6025192743. / 30085553152. / 2, 0., 51252292925. / 65400821598. / 2,
       -2691868925. / 45128329728. / 2, 187940372067. / 1594534317056. / 2,
       -1776094331. / 19743644256. / 2, 11237099. / 235043384. / 2},
      5};
  return tableau;
}

// Bogacki-Shampine 3(2) (bosh3.py).
const ButcherTableau& bogacki_shampine() {
  static const ButcherTableau tableau{{1 / 2., 3 / 4., 1.},
                                      {{1 / 2.}, {0., 3 / 4.}, {2 / 9., 1 / 3., 4 / 9.}},
                                      {2 / 9., 1 / 3., 4 / 9., 0.},
                                      {2 / 9. - 7 / 24., 1 / 3. - 1 / 4., 4 / 9. - 1 / 3., -1 / 8.},
                                      {0., 0.5, 0., 0.},
                                      3};
  return tableau;
}

// Heun-Euler 2(1) (adaptive_heun.py).
const ButcherTableau& heun_euler() {
  static const ButcherTableau tableau{{1.}, {{1.}}, {0.5, 0.5}, {0.5, -0.5}, {0.5, 0.}, 2};
  return tableau;
}

const ButcherTableau& tableau_of(OdeMethod method) {
  switch (method) {
    case OdeMethod::Dopri5:
      return dormand_prince_shampine();
    case OdeMethod::Bosh3:
      return bogacki_shampine();
    case OdeMethod::AdaptiveHeun:
      return heun_euler();
    default:
      TORCH_CHECK(false, "integrate_adaptive: not an adaptive method");
  }
}

torch::Tensor rms_norm(const torch::Tensor& x) { return x.abs().pow(2).mean().sqrt(); }

// The solver's state between steps (_RungeKuttaState): y and f at the end of the last accepted
// step, that step's span [t0, t1], the next step size and the step's interpolation coefficients.
struct RungeKuttaState {
  torch::Tensor y1, f1;
  double t0, t1, dt;
  std::vector<torch::Tensor> interp_coeff;  // [e, d, c, b, a] of e + d x + c x^2 + b x^3 + a x^4
};

class AdaptiveSolver {
 public:
  AdaptiveSolver(VectorField& field, const ButcherTableau& tableau, const OdeintOptions& options)
      : f_(field), tableau_(tableau), options_(options) {
    norm_ = options.norm() ? options.norm() : ErrorNorm(rms_norm);
  }

  void before_integrate(double t0, const torch::Tensor& y0) {
    auto f0 = f_(t0, y0);
    state_ = {y0, f0, t0, t0, select_initial_step(t0, y0, f0), {y0, y0, y0, y0, y0}};
  }

  // Steps until t is covered, then interpolates there.
  torch::Tensor advance(double t) {
    while (t > state_.t1) adaptive_step();
    return interp_evaluate(t);
  }

  int64_t accepted() const { return accepted_; }
  int64_t rejected() const { return rejected_; }

 private:
  // Hairer, Norsett & Wanner, Solving ODEs I, II.4 (misc.py _select_initial_step), with the
  // tolerances' float64 promotion.
  double select_initial_step(double t0, const torch::Tensor& y0, const torch::Tensor& f0) {
    auto scale = options_.atol() + y0.abs().to(torch::kFloat64) * options_.rtol();
    const double d0 = norm_(y0 / scale).abs().item<double>();
    const double d1 = norm_(f0 / scale).abs().item<double>();
    const double h0 = (d0 < 1e-5 || d1 < 1e-5) ? f_.round(1e-6) : 0.01 * d0 / d1;
    auto f1 = f_(t0 + h0, y0 + f0 * h0);
    const double d2 = std::abs(norm_((f1 - f0) / scale).item<double>() / h0);
    const double h1 = (d1 <= 1e-15 && d2 <= 1e-15)
                          ? std::max(f_.round(1e-6), h0 * 1e-3)
                          : std::pow(1.0 / std::max(d1, d2) * 0.01, 1.0 / tableau_.order);
    return std::min(100 * h0, std::abs(h1));
  }

  // misc.py _optimal_step_size: never shrinks after an accepted step.
  double optimal_step_size(double last_step, double error_ratio) const {
    const double safety = 0.9, ifactor = 10.0;
    if (error_ratio == 0) return last_step * ifactor;
    const double dfactor = error_ratio < 1 ? 1.0 : 0.2;
    const double factor =
        std::min(ifactor, std::max(safety / std::pow(error_ratio, 1.0 / tableau_.order), dfactor));
    return last_step * factor;
  }

  void adaptive_step() {
    const double t0 = state_.t1;  // a step starts where the last accepted one ended
    const double dt = state_.dt;
    const double t1 = t0 + dt;
    TORCH_CHECK(std::isfinite(dt) && t1 > t0, "odeint: underflow in dt ", dt);
    const auto& y0 = state_.y1;
    TORCH_CHECK(torch::isfinite(y0).all().item<bool>(), "odeint: non-finite values in the state");

    auto [y1, k] = runge_kutta_step(y0, state_.f1, t0, dt, t1);
    const double dt_s = f_.round(dt);
    auto y1_error = (k * (dt_s * as_tensor(tableau_.c_error, k))).sum(-1);
    auto error_tol =
        options_.atol() + options_.rtol() * torch::max(y0.abs(), y1.abs()).to(torch::kFloat64);
    const double error_ratio = norm_(y1_error / error_tol).abs().item<double>();
    // torchdiffeq rejects the step, its next dt comes out NaN, is replaced by min_step = 0 and
    // fails as an underflow: stop here instead.
    TORCH_CHECK(!std::isnan(error_ratio),
                "odeint: the vector field returned non-finite values "
                "between t = ",
                t0, " and ", t1);

    const double dt_next = optimal_step_size(dt, error_ratio);
    if (error_ratio <= 1) {
      ++accepted_;
      state_ = {y1, k.select(-1, k.size(-1) - 1), t0, t1, dt_next, interp_fit(y0, y1, k, dt_s)};
    } else {
      ++rejected_;
      state_.t0 = state_.t1 = t0;
      state_.dt = dt_next;
    }
  }

  // One step of the pair from t0 by dt (rk_common.py _runge_kutta_step). Returns y1 and the
  // stage derivatives k: (*y.shape, stages).
  std::pair<torch::Tensor, torch::Tensor> runge_kutta_step(const torch::Tensor& y0,
                                                           const torch::Tensor& f0, double t0,
                                                           double dt, double t1) {
    const double t0_s = f_.round(t0), dt_s = f_.round(dt), t1_s = f_.round(t1);
    const int64_t stages = static_cast<int64_t>(tableau_.alpha.size()) + 1;
    auto shape = y0.sizes().vec();
    shape.push_back(stages);
    auto k = torch::empty(shape, y0.options());
    k.select(-1, 0).copy_(f0);
    torch::Tensor yi;
    for (int64_t i = 0; i + 1 < stages; ++i) {
      const double alpha_i = f_.round(tableau_.alpha[i]);
      auto weights = dt_s * as_tensor(tableau_.beta[i], k);
      yi = y0 + (k.narrow(-1, 0, i + 1) * weights).sum(-1);
      // A stage at the step's end is evaluated just before it, in case f jumps there.
      auto fi = alpha_i == 1.0 ? f_(t1_s, yi, /*perturb_prev=*/true)
                               : f_(f_.round(t0_s + f_.round(alpha_i * dt_s)), yi);
      k.select(-1, i + 1).copy_(fi);
    }
    // First-same-as-last pairs (dopri5, bosh3) already hold y1 as the last stage's input.
    const auto& c_sol = tableau_.c_sol;
    const bool fsal = c_sol.back() == 0.0 &&
                      std::equal(c_sol.begin(), c_sol.end() - 1, tableau_.beta.back().begin());
    if (!fsal) yi = y0 + (k * (dt_s * as_tensor(c_sol, k))).sum(-1);
    return {yi, k};
  }

  // Quartic through y0, y1, y(t0 + dt/2), f0, f1 (interp.py _interp_fit).
  std::vector<torch::Tensor> interp_fit(const torch::Tensor& y0, const torch::Tensor& y1,
                                        const torch::Tensor& k, double dt_s) const {
    auto y_mid = y0 + (k * (dt_s * as_tensor(tableau_.mid, k))).sum(-1);
    auto f0 = k.select(-1, 0);
    auto f1 = k.select(-1, k.size(-1) - 1);
    const double two_dt = f_.round(2 * dt_s);
    auto a = (f1 - f0) * two_dt - 8 * (y1 + y0) + 16 * y_mid;
    auto b = (5 * f0 - 3 * f1) * dt_s + 18 * y0 + 14 * y1 - 32 * y_mid;
    auto c = (f1 - 4 * f0) * dt_s - 11 * y0 - 5 * y1 + 16 * y_mid;
    auto d = f0 * dt_s;
    return {y0, d, c, b, a};
  }

  // interp.py _interp_evaluate at t in [t0, t1] of the last accepted step.
  torch::Tensor interp_evaluate(double t) const {
    TORCH_CHECK(state_.t0 <= t && t <= state_.t1, "odeint: invalid interpolation at ", t);
    const double x = f_.round((t - state_.t0) / (state_.t1 - state_.t0));
    const auto& coeff = state_.interp_coeff;
    auto total = coeff[0] + coeff[1] * x;
    double x_power = x;
    for (size_t i = 2; i < coeff.size(); ++i) {
      x_power = f_.round(x_power * x);
      total = total + coeff[i] * x_power;
    }
    return total;
  }

  // Weights as a tensor in like's dtype (the tableau is cast to y's dtype).
  static torch::Tensor as_tensor(const std::vector<double>& weights, const torch::Tensor& like) {
    return torch::tensor(weights, torch::TensorOptions().dtype(torch::kFloat64)).to(like.options());
  }

  VectorField& f_;
  const ButcherTableau& tableau_;
  const OdeintOptions& options_;
  ErrorNorm norm_;
  RungeKuttaState state_;
  int64_t accepted_ = 0;
  int64_t rejected_ = 0;
};

}  // namespace

OdeintResult integrate_adaptive(VectorField& field, const torch::Tensor& y0,
                                const std::vector<double>& times, const OdeintOptions& options) {
  AdaptiveSolver solver(field, tableau_of(options.method()), options);
  solver.before_integrate(times.front(), y0);
  std::vector<torch::Tensor> trajectory{y0};
  torch::Tensor y;
  for (size_t i = 1; i < times.size(); ++i) {
    y = solver.advance(times[i]);
    if (options.trajectory()) trajectory.push_back(y);
  }
  OdeintResult result;
  result.final = y;
  if (options.trajectory()) result.trajectory = torch::stack(trajectory);
  result.function_evaluations = field.evaluations();
  result.accepted_steps = solver.accepted();
  result.rejected_steps = solver.rejected();
  return result;
}

}  // namespace sit::transport::detail
