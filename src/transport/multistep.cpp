// The multistep solvers of multistep.h. Coefficients are computed in double from the path at the
// grid times; the states stay in their own dtype.
#include "transport/multistep.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace sit::transport::detail {

namespace {

// The path at one time.
struct PathPoint {
  double t, alpha, sigma, d_alpha, d_sigma;
  /// log(alpha / sigma): -inf at pure noise, +inf at the data.
  double lambda() const { return std::log(alpha) - std::log(sigma); }
};

// Coefficients below this are zeros that rounding missed (GVP's cos(pi / 2) = 6e-17): pure noise
// or the data, where lambda is infinite.
constexpr double kZero = 1e-12;

PathPoint path_point(const Path& path, double t) {
  auto time = torch::tensor({t}, torch::kFloat64);
  auto alpha = path.compute_alpha_t(time), sigma = path.compute_sigma_t(time);
  auto snap = [](double v) { return std::abs(v) < kZero ? 0.0 : v; };
  return {t, snap(alpha.value.item<double>()), snap(sigma.value.item<double>()), alpha.derivative.item<double>(),
          sigma.derivative.item<double>()};
}

// One model evaluation kept for later steps: the data prediction (DPM-Solver++, UniPC) or the
// velocity (Adams) at a grid point.
struct Evaluation {
  PathPoint point;
  double lambda;
  torch::Tensor value;
};

// E[x1 | x_t] from the velocity v at (t, x): x = alpha x1 + sigma x0 and v = d_alpha x1 +
// d_sigma x0 solved for x1 (the determinant is -1 on the Linear path, -pi/2 on GVP).
torch::Tensor data_prediction(const PathPoint& p, const torch::Tensor& x, const torch::Tensor& v) {
  const double det = p.d_sigma * p.alpha - p.sigma * p.d_alpha;
  return x * (p.d_sigma / det) - v * (p.sigma / det);
}

// The order a step from history.back() to t can have: no more than `order`, no more than the
// evaluations with finite lambda, 1 into the data, and diffusers' lower_order_final below 15 steps.
int step_order(int order, const std::vector<Evaluation>& history, const PathPoint& t, size_t step,
               size_t steps) {
  int finite = 0;
  for (const auto& e : history) finite += std::isfinite(e.lambda) ? 1 : 0;
  int k = std::min(order, finite);
  if (!std::isfinite(t.lambda())) k = 1;
  if (steps < 15 && step + 1 == steps) k = 1;
  if (steps < 15 && step + 2 == steps) k = std::min(k, 2);
  return std::max(k, 1);
}

// e^{-h} for h = lambda_t - lambda_s: (alpha_s / sigma_s) / (alpha_t / sigma_t), written so that a
// step from pure noise or into the data gives 0 rather than a NaN.
double decay(const PathPoint& s, const PathPoint& t) {
  if (s.alpha == 0 || t.sigma == 0) return 0.0;
  return s.alpha * t.sigma / (s.sigma * t.alpha);
}

// The first-order (DDIM) step from (s, x) to t on the data prediction d:
// sigma_t / sigma_s x + alpha_t (1 - e^{-h}) d.
torch::Tensor first_order(const torch::Tensor& x, const PathPoint& s, const PathPoint& t,
                          const torch::Tensor& d) {
  return x * (t.sigma / s.sigma) + d * (t.alpha * (1.0 - decay(s, t)));
}

// DPM-Solver++ of order k from the newest evaluation (at s) to t. With D(lambda) expanded about
// lambda_s, the exact solution is sigma_t / sigma_s x + alpha_t [(1 - e^{-h}) D + (h - 1 + e^{-h}) D'
// + (h^2 / 2 - h + 1 - e^{-h}) D''], D' and D'' estimated from divided differences of the history.
torch::Tensor dpm_solver_step(int k, const torch::Tensor& x, const std::vector<Evaluation>& history,
                              const PathPoint& t) {
  const auto& e0 = history.back();
  auto out = first_order(x, e0.point, t, e0.value);
  if (k == 1) return out;
  const double h = t.lambda() - e0.lambda;
  const double em1 = std::expm1(-h);  // e^{-h} - 1
  const auto& e1 = history[history.size() - 2];
  const double r0 = (e0.lambda - e1.lambda) / h;
  auto d1_0 = (e0.value - e1.value) / r0;  // ~ h D' at the midpoint of [lambda_1, lambda_s]
  if (k == 2) return out - d1_0 * (0.5 * t.alpha * em1);
  const auto& e2 = history[history.size() - 3];
  const double r1 = (e1.lambda - e2.lambda) / h;
  auto d1_1 = (e1.value - e2.value) / r1;
  auto d1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1));  // ~ h D'
  auto d2 = (d1_0 - d1_1) / (r0 + r1);                // ~ h^2 D'' / 2
  const double phi_2 = em1 / h + 1.0;                 // (h - 1 + e^{-h}) / h
  const double phi_3 = phi_2 / h - 0.5;               // (h - 1 + e^{-h}) / h^2 - 1/2
  return out + d1 * (t.alpha * phi_2) - d2 * (2.0 * t.alpha * phi_3);
}

// UniPC's bh2 coefficients for order k at step size h, the history's relative positions rks
// (k - 1 of them, then 1 for the point stepped to): rows R[i] = rks^i and b, as in the paper's
// Algorithm with B(h) = e^{-h} - 1.
struct UniCoefficients {
  torch::Tensor R, b;  // (k, k), (k,) float64
  double phi_1, b_h;
};

UniCoefficients uni_coefficients(int k, double h, const std::vector<double>& rks) {
  const double hh = -h;
  const double phi_1 = std::expm1(hh);
  const double b_h = phi_1;
  auto R = torch::empty({k, k}, torch::kFloat64), b = torch::empty({k}, torch::kFloat64);
  double phi_k = phi_1 / hh - 1.0, factorial = 1.0;
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) R[i][j] = std::pow(rks[j], i);
    b[i] = phi_k * factorial / b_h;
    factorial *= i + 2;
    phi_k = phi_k / hh - 1.0 / factorial;
  }
  return {R, b, phi_1, b_h};
}

// The history's k - 1 newest evaluations before e0, as UniPC's (r_m, D1_m = (m - m0) / r_m).
std::vector<double> relative_positions(int k, const std::vector<Evaluation>& history, size_t newest,
                                       double h) {
  std::vector<double> rks;
  for (int i = 1; i < k; ++i) rks.push_back((history[newest - i].lambda - history[newest].lambda) / h);
  rks.push_back(1.0);
  return rks;
}

torch::Tensor weighted_differences(const std::vector<Evaluation>& history, size_t newest,
                                   const std::vector<double>& rks, const torch::Tensor& rhos,
                                   int count) {
  torch::Tensor sum;
  for (int i = 1; i <= count; ++i) {
    auto d = (history[newest - i].value - history[newest].value) / rks[i - 1];
    auto term = d * rhos[i - 1].item<double>();
    sum = sum.defined() ? sum + term : term;
  }
  return sum;
}

// UniP-k: from (s = history[newest], x) to t.
torch::Tensor uni_predictor(int k, const torch::Tensor& x, const std::vector<Evaluation>& history,
                            const PathPoint& t) {
  const size_t newest = history.size() - 1;
  const auto& e0 = history[newest];
  auto out = first_order(x, e0.point, t, e0.value);
  if (k == 1) return out;
  const double h = t.lambda() - e0.lambda;
  const auto rks = relative_positions(k, history, newest, h);
  const auto c = uni_coefficients(k, h, rks);
  // Order 2 takes the paper's rho = 1/2; higher orders solve the (k - 1) x (k - 1) system.
  auto rhos = k == 2 ? torch::full({1}, 0.5, torch::kFloat64)
                     : torch::linalg_solve(c.R.slice(0, 0, k - 1).slice(1, 0, k - 1), c.b.slice(0, 0, k - 1));
  return out - weighted_differences(history, newest, rks, rhos, k - 1) * (t.alpha * c.b_h);
}

// UniC-k: corrects the state reached at t = history.back() from (s = history[newest - 1],
// x_s) with the evaluation at t.
torch::Tensor uni_corrector(int k, const torch::Tensor& x_s, const std::vector<Evaluation>& history) {
  const size_t newest = history.size() - 2;
  const auto& e0 = history[newest];
  const auto& et = history.back();
  const PathPoint& t = et.point;
  auto out = first_order(x_s, e0.point, t, e0.value);
  const double h = et.lambda - e0.lambda;
  const auto rks = relative_positions(k, history, newest, h);
  const auto c = uni_coefficients(k, h, rks);
  // Order 1 takes the paper's a_1 = 1/2.
  auto rhos = k == 1 ? torch::full({1}, 0.5, torch::kFloat64) : torch::linalg_solve(c.R, c.b);
  auto correction = (et.value - e0.value) * rhos[k - 1].item<double>();
  if (k > 1) correction = correction + weighted_differences(history, newest, rks, rhos, k - 1);
  return out - correction * (t.alpha * c.b_h);
}

// Adams-Bashforth of order k from the newest evaluation (at s) to t: the integral over [s, t] of
// the polynomial through the k newest velocities, by 3-point Gauss-Legendre (exact to degree 5).
torch::Tensor adams_step(int k, const torch::Tensor& x, const std::vector<Evaluation>& history,
                         double t) {
  constexpr std::array<double, 3> nodes{-0.7745966692414834, 0.0, 0.7745966692414834};
  constexpr std::array<double, 3> weights{5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0};
  const size_t newest = history.size() - 1;
  const double s = history[newest].point.t;
  auto out = x;
  for (int j = 0; j < k; ++j) {
    const double tj = history[newest - j].point.t;
    double w = 0.0;
    for (size_t q = 0; q < nodes.size(); ++q) {
      const double tau = s + 0.5 * (t - s) * (1.0 + nodes[q]);
      double basis = 1.0;  // the Lagrange basis polynomial of node j
      for (int m = 0; m < k; ++m) {
        if (m != j) basis *= (tau - history[newest - m].point.t) / (tj - history[newest - m].point.t);
      }
      w += weights[q] * basis;
    }
    out = out + history[newest - j].value * (0.5 * (t - s) * w);
  }
  return out;
}

int solver_order(OdeMethod method) {
  switch (method) {
    case OdeMethod::DpmSolver2M: case OdeMethod::UniPC2: case OdeMethod::Adams2: return 2;
    case OdeMethod::DpmSolver3M: case OdeMethod::UniPC3: case OdeMethod::Adams3: return 3;
    case OdeMethod::Adams4: return 4;
    default: TORCH_CHECK(false, "integrate_multistep: not a multistep method");
  }
}

}  // namespace

OdeintResult integrate_multistep(OdeMethod method, const Path& path, const VelocityFn& velocity,
                                 const torch::Tensor& x0, const std::vector<double>& times,
                                 bool trajectory) {
  TORCH_CHECK(times.size() >= 2, "integrate_multistep: at least 2 time points");
  const bool adams = method == OdeMethod::Adams2 || method == OdeMethod::Adams3 || method == OdeMethod::Adams4;
  const bool unipc = method == OdeMethod::UniPC2 || method == OdeMethod::UniPC3;
  if (!adams) {
    for (size_t i = 1; i < times.size(); ++i) {
      TORCH_CHECK(times[i] > times[i - 1], "integrate_multistep: ", config::enum_name(method),
                  " integrates from noise to data (increasing t)");
    }
  }
  const int order = solver_order(method);
  const size_t steps = times.size() - 1;
  std::vector<PathPoint> points;
  for (double time : times) points.push_back(path_point(path, time));
  std::vector<Evaluation> history;
  std::vector<torch::Tensor> states{x0};
  auto x = x0;
  torch::Tensor x_before;  // UniPC: the state the last predictor started from
  int last_order = 0;
  for (size_t i = 0; i < steps; ++i) {
    const PathPoint &s = points[i], &t = points[i + 1];
    auto v = velocity(s.t, x);
    history.push_back({s, s.lambda(), adams ? v : data_prediction(s, x, v)});
    if (history.size() > static_cast<size_t>(order) + 1) history.erase(history.begin());
    if (unipc && i > 0) {
      // The evaluation at the predicted state corrects it; the next steps use that evaluation.
      x = uni_corrector(last_order, x_before, history);
      if (trajectory) states.back() = x;
    }
    if (adams) {
      x = adams_step(std::min<int>(order, static_cast<int>(history.size())), x, history, t.t);
    } else {
      // The predictor's history excludes the evaluation kept only for the corrector.
      std::vector<Evaluation> recent(history.end() - std::min<size_t>(history.size(), order), history.end());
      const int k = step_order(order, recent, t, i, steps);
      x_before = x;
      last_order = k;
      x = unipc ? uni_predictor(k, x, recent, t) : dpm_solver_step(k, x, recent, t);
    }
    if (trajectory) states.push_back(x);
  }
  OdeintResult result;
  result.final = x;
  if (trajectory) result.trajectory = torch::stack(states);
  result.function_evaluations = static_cast<int64_t>(steps);
  result.accepted_steps = static_cast<int64_t>(steps);
  return result;
}

}  // namespace sit::transport::detail
