// The solvers on the Gaussian oracle's probability-flow ODE, whose exact flow map is known:
// fixed-step errors shrink at each method's order as the steps double, adaptive solvers meet
// their tolerance, evaluation counts follow torchdiffeq's, and a decreasing grid runs backwards.
#include "support/catch_torch.h"
#include <sit/transport/odeint.h>

#include <cmath>

#include "gaussian_oracle.h"

using namespace sit::transport;

namespace {

struct Problem {
  sit::test::GaussianOracle oracle =
      sit::test::GaussianOracle::rotated({1.0, -0.5, 2.0}, {0.2, 1.0, 3.0}, 13);
  // GVP: on the linear path midpoint happens to converge at order 3 for this field.
  sit::transport::GVPCPlan path;
  torch::Tensor x0 = torch::randn({16, 3}, at::detail::createCPUGenerator(17), torch::kFloat64);

  OdeFunc field() const {
    return [this](const torch::Tensor& t, const torch::Tensor& y) {
      return oracle.velocity(path, y, t.expand({y.size(0)}));
    };
  }
  torch::Tensor exact(double t0, double t1) const { return oracle.transport_map(path, x0, t0, t1); }
  double error(OdeMethod method, int64_t grid_points) const {
    auto t = torch::linspace(0.0, 1.0, grid_points, torch::kFloat64);
    auto result = odeint(field(), x0, t, OdeintOptions().method(method));
    return (result.final - exact(0.0, 1.0)).abs().max().item<double>();
  }
};

}  // namespace

TEST_CASE("fixed-step errors shrink at the method's order", "[transport][odeint]") {
  Problem problem;
  struct Case {
    OdeMethod method;
    double order;
    int64_t grid_points;  // coarsest grid; then 2x and 4x the steps
  };
  for (const auto& c :
       {Case{OdeMethod::Euler, 1, 33}, Case{OdeMethod::Midpoint, 2, 17},
        Case{OdeMethod::Heun2, 2, 17}, Case{OdeMethod::Heun3, 3, 9}, Case{OdeMethod::RK4, 4, 9}}) {
    INFO("method " << static_cast<int>(c.method));
    const double e1 = problem.error(c.method, c.grid_points);
    const double e2 = problem.error(c.method, 2 * c.grid_points - 1);
    const double e3 = problem.error(c.method, 4 * c.grid_points - 3);
    INFO("errors " << e1 << " " << e2 << " " << e3);
    // Observed order log2(e(h) / e(h/2)) within 0.25 of the theoretical one.
    CHECK(std::log2(e1 / e2) == Approx(c.order).margin(0.25));
    CHECK(std::log2(e2 / e3) == Approx(c.order).margin(0.25));
  }
}

TEST_CASE("fixed-step evaluation counts and trajectory", "[transport][odeint]") {
  Problem problem;
  auto t = torch::linspace(0.0, 1.0, 16, torch::kFloat32);
  auto y0 = problem.x0.to(torch::kFloat32);
  OdeFunc f = [&](const torch::Tensor& time, const torch::Tensor& y) {
    return problem.oracle.velocity(problem.path, y.to(torch::kFloat64), time.expand({y.size(0)}))
        .to(torch::kFloat32);
  };
  const std::vector<std::pair<OdeMethod, int64_t>> per_step = {{OdeMethod::Euler, 1},
                                                               {OdeMethod::Midpoint, 2},
                                                               {OdeMethod::Heun2, 2},
                                                               {OdeMethod::Heun3, 3},
                                                               {OdeMethod::RK4, 4}};
  for (const auto& [method, evaluations] : per_step) {
    auto result = odeint(f, y0, t, OdeintOptions().method(method).trajectory(true));
    CHECK(result.function_evaluations == 15 * evaluations);
    CHECK(result.trajectory.sizes() == torch::IntArrayRef({16, 16, 3}));
    CHECK(torch::equal(result.trajectory[0], y0));
    CHECK(torch::equal(result.trajectory[15], result.final));
  }
}

TEST_CASE("adaptive solvers meet their tolerance", "[transport][odeint]") {
  Problem problem;
  auto exact = problem.exact(0.0, 1.0);
  auto t = torch::linspace(0.0, 1.0, 11, torch::kFloat64);
  for (OdeMethod method : {OdeMethod::Dopri5, OdeMethod::Bosh3, OdeMethod::AdaptiveHeun}) {
    for (double tol : {1e-4, 1e-6}) {
      INFO("method " << static_cast<int>(method) << " tol " << tol);
      auto result = odeint(problem.field(), problem.x0, t,
                           OdeintOptions().method(method).rtol(tol).atol(tol).trajectory(true));
      const double error = (result.final - exact).abs().max().item<double>();
      const double mid_error =
          (result.trajectory[5] - problem.exact(0.0, 0.5)).abs().max().item<double>();
      if (method == OdeMethod::Bosh3) {
        // torchdiffeq's bosh3 interpolates through a midpoint-rule estimate of y(t0 + dt/2)
        // (mid weights [0, 1/2, 0, 0]): its dense output is only second order.
        CHECK(error < 2e-2);
      } else {
        // Global error within a small multiple of the per-step tolerance on states of size ~5,
        // at the end and at interior points alike (dense output).
        CHECK(error < 20 * tol * 5);
        CHECK(mid_error < 20 * tol * 5);
      }
      // Stages per attempted step, plus f(t0) and the initial step selection's probe.
      const int64_t stages = method == OdeMethod::Dopri5 ? 6 : method == OdeMethod::Bosh3 ? 3 : 1;
      CHECK(result.function_evaluations ==
            2 + stages * (result.accepted_steps + result.rejected_steps));
    }
  }
}

TEST_CASE("a decreasing grid integrates backwards", "[transport][odeint]") {
  Problem problem;
  auto forward = problem.exact(0.0, 1.0);
  auto t = torch::linspace(1.0, 0.0, 9, torch::kFloat64);
  OdeFunc f = [&](const torch::Tensor& time, const torch::Tensor& y) {
    return problem.oracle.velocity(problem.path, y, time.expand({y.size(0)}));
  };
  auto rk4 = odeint(f, forward, t, OdeintOptions().method(OdeMethod::RK4));
  CHECK((rk4.final - problem.x0).abs().max().item<double>() < 1e-3);
  auto dopri5 =
      odeint(f, forward, t, OdeintOptions().method(OdeMethod::Dopri5).rtol(1e-8).atol(1e-8));
  CHECK((dopri5.final - problem.x0).abs().max().item<double>() < 1e-6);
}

TEST_CASE("torchdiffeq's rk4 is the 3/8 rule", "[transport][odeint]") {
  // dy/dt = t^3 on one step of size 1: both rules integrate cubics exactly, so use the stage
  // times instead: the 3/8 rule evaluates at t0, t0 + h/3, t0 + 2h/3 and t1.
  std::vector<double> times;
  OdeFunc f = [&](const torch::Tensor& t, const torch::Tensor& y) {
    times.push_back(t.item<double>());
    return torch::zeros_like(y);
  };
  odeint(f, torch::zeros({1}, torch::kFloat64), torch::tensor({0.0, 0.75}, torch::kFloat64),
         OdeintOptions().method(OdeMethod::RK4));
  REQUIRE(times.size() == 4);
  CHECK(times[1] == Approx(0.25));
  CHECK(times[2] == Approx(0.5));
  CHECK(times[3] == 0.75);
}

TEST_CASE("dopri5: initial step, step growth and stage times as torchdiffeq",
          "[transport][odeint]") {
  // f = 0: the initial step selection falls back to 1e-6 (in float32), every error ratio is 0 so
  // each step grows tenfold, and the stages at a step's end run one float32 ulp before it.
  std::vector<float> times;
  OdeFunc f = [&](const torch::Tensor& t, const torch::Tensor& y) {
    times.push_back(t.item<float>());
    return torch::zeros_like(y);
  };
  auto result = odeint(f, torch::ones({4}), torch::tensor({0.0f, 1.0f}),
                       OdeintOptions().method(OdeMethod::Dopri5).rtol(1e-3).atol(1e-6));
  CHECK(torch::equal(result.final, torch::ones({4})));
  const double alpha[] = {1 / 5., 3 / 10., 4 / 5., 8 / 9.};
  double t0 = 0.0, dt = static_cast<float>(1e-6);
  size_t i = 2;  // after f(t0) and the initial step's probe
  int64_t steps = 0;
  while (t0 < 1.0) {
    const double t1 = t0 + dt;
    const float t0_s = static_cast<float>(t0), dt_s = static_cast<float>(dt);
    REQUIRE(i + 6 <= times.size());
    for (int stage = 0; stage < 4; ++stage) {
      CHECK(times[i + stage] == t0_s + static_cast<float>(alpha[stage]) * dt_s);
    }
    const float end = std::nextafter(static_cast<float>(t1), -1.0f);
    CHECK(times[i + 4] == end);
    CHECK(times[i + 5] == end);
    i += 6;
    t0 = t1;
    dt *= 10;
    ++steps;
  }
  CHECK(i == times.size());
  CHECK(result.accepted_steps == steps);
  CHECK(result.rejected_steps == 0);
}

TEST_CASE("mixed_rms_norm takes the max of the parts' RMS", "[transport][odeint]") {
  auto norm = mixed_rms_norm({3, 1});
  auto value = norm(torch::tensor({3.0, 4.0, 0.0, 2.5}, torch::kFloat64)).item<double>();
  CHECK(value == Approx(std::max(std::sqrt(25.0 / 3.0), 2.5)));
  CHECK(sit::config::parse_enum<OdeMethod>("adaptive_heun") == OdeMethod::AdaptiveHeun);
  CHECK_THROWS_AS(sit::config::parse_enum<OdeMethod>("rk45"), sit::config::ConfigError);
}
