// The samplers with the Gaussian oracle as the model: ODE samples against the exact flow map for
// every path and prediction, reverse then forward, SDE sample moments, likelihoods against the
// analytic density, noise replay, last steps and evaluation counts.
#include "support/catch_torch.h"
#include <sit/transport/sampler.h>

#include <cmath>

#include "gaussian_oracle.h"

using namespace sit::transport;

namespace {

const sit::test::GaussianOracle& oracle() {
  static const auto instance =
      sit::test::GaussianOracle::rotated({1.0, -0.5, 2.0}, {0.2, 1.0, 3.0}, 13);
  return instance;
}

// The oracle's output for the transport's prediction: exactly what a perfect network returns.
ModelFn oracle_model(const Transport& transport) { return oracle().model(transport); }

torch::Tensor noise(int64_t n, uint64_t seed) {
  return torch::randn({n, 3}, at::detail::createCPUGenerator(seed), torch::kFloat64);
}

double max_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("the ODE sampler follows the exact flow map for every path and prediction",
          "[transport][sampler]") {
  auto x = noise(32, 1);
  for (PathType path_type : {PathType::Linear, PathType::GVP, PathType::VP}) {
    for (ModelType prediction : {ModelType::Velocity, ModelType::Score, ModelType::Noise}) {
      INFO("path " << static_cast<int>(path_type) << " prediction "
                   << static_cast<int>(prediction));
      Transport transport(TransportOptions().path_type(path_type).prediction(prediction));
      Sampler sampler(transport);
      auto [t0, t1] = transport.check_interval(IntervalOptions().eval(true));
      auto exact = oracle().transport_map(transport.path_sampler(), x, t0, t1);
      // dopri5's last step overshoots t1 = 0.999 past 1, where VP's sigma_t is NaN: a VP score
      // or noise model then fails there, as the official does (torchdiffeq's "underflow in dt").
      const bool vp_conversion = path_type == PathType::VP && prediction != ModelType::Velocity;
      auto options = vp_conversion
                         ? SamplerOptions().ode_method(OdeMethod::RK4).num_steps(101)
                         : SamplerOptions().num_steps(50).rtol(1e-7).atol(1e-9);
      auto result = sampler.sample_ode(x, oracle_model(transport), options);
      CHECK(max_error(result.sample, exact) < 1e-4);
      CHECK(result.time_grid.size(0) == options.num_steps());
      CHECK(result.time_grid[0].item<double>() == Approx(t0).margin(1e-7));
      CHECK(result.time_grid[-1].item<double>() == Approx(t1).margin(1e-7));
    }
  }
}

TEST_CASE("reverse maps data to noise and forward brings it back", "[transport][sampler]") {
  Transport transport;
  Sampler sampler(transport);
  auto data = oracle().sample(32, at::detail::createCPUGenerator(2));
  auto options = SamplerOptions().num_steps(50).rtol(1e-8).atol(1e-10);
  auto encoded = sampler.sample_ode(data, oracle_model(transport), options.reverse(true));
  CHECK(max_error(encoded.sample, oracle().transport_map(transport.path_sampler(), data, 1, 0)) <
        1e-5);
  CHECK(encoded.time_grid[0].item<double>() == 1.0);
  auto decoded =
      sampler.sample_ode(encoded.sample, oracle_model(transport), options.reverse(false));
  CHECK(max_error(decoded.sample, data) < 1e-5);
}

TEST_CASE("fixed-step ODE sampling: evaluations and trajectory", "[transport][sampler]") {
  Transport transport;
  Sampler sampler(transport);
  auto x = noise(8, 3);
  auto euler = sampler.sample_ode(
      x, oracle_model(transport),
      SamplerOptions().ode_method(OdeMethod::Euler).num_steps(16).trajectory(true));
  CHECK(euler.model_evaluations == 15);
  CHECK(euler.trajectory.sizes() == torch::IntArrayRef({16, 8, 3}));
  CHECK(torch::equal(euler.trajectory[0], x));
  auto heun =
      sampler.sample_ode(x, oracle_model(transport),
                         SamplerOptions().ode_method(OdeMethod::Heun2).num_steps(16));
  CHECK(heun.model_evaluations == 30);
  auto exact = oracle().transport_map(transport.path_sampler(), x, 0, 1);
  CHECK(max_error(heun.sample, exact) < max_error(euler.sample, exact));
}

TEST_CASE("SDE samples have the data's mean and covariance", "[transport][sampler][sde]") {
  const int64_t n = 20000;
  for (SdeMethod method : {SdeMethod::Euler, SdeMethod::Heun}) {
    for (PathType path_type : {PathType::Linear, PathType::VP}) {
      INFO("method " << static_cast<int>(method) << " path " << static_cast<int>(path_type));
      Transport transport(TransportOptions().path_type(path_type));
      Sampler sampler(transport);
      auto result = sampler.sample_sde(noise(n, 4), oracle_model(transport),
                                       SamplerOptions()
                                           .sde_method(method)
                                           .diffusion_form(DiffusionForm::Sigma)
                                           .num_steps(100),
                                       gaussian_noise(at::detail::createCPUGenerator(5)));
      auto mean = result.sample.mean(0);
      auto centred = result.sample - mean;
      auto covariance = centred.t().matmul(centred) / (n - 1);
      // Sampling error of the mean: sqrt(3 / 20000) = 0.012 at most; the rest is discretisation.
      CHECK(max_error(mean, oracle().mu) < 0.06);
      CHECK(max_error(covariance, oracle().covariance()) < 0.15);
    }
  }
}

TEST_CASE("SDE evaluations, trajectory, noise replay and last steps", "[transport][sampler][sde]") {
  Transport transport;
  Sampler sampler(transport);
  auto x = noise(6, 6);
  std::vector<torch::Tensor> draws;
  NoiseFn recording = [&](int64_t step, const torch::Tensor& state) {
    auto w = gaussian_noise(at::detail::createCPUGenerator(100 + step))(step, state);
    draws.push_back(w);
    return w;
  };
  auto options =
      SamplerOptions().diffusion_form(DiffusionForm::Sigma).num_steps(16).trajectory(true);
  auto recorded = sampler.sample_sde(x, oracle_model(transport), options, recording);
  CHECK(recorded.model_evaluations == 16);  // 15 stochastic steps and the Mean step; official: 32
  CHECK(recorded.trajectory.sizes() == torch::IntArrayRef({16, 6, 3}));
  CHECK(recorded.time_grid[-1].item<double>() == Approx(0.96));
  REQUIRE(draws.size() == 15);
  auto replayed =
      sampler.sample_sde(x, oracle_model(transport), options, replayed_noise(torch::stack(draws)));
  CHECK(torch::equal(replayed.sample, recorded.sample));

  // Each last step from the same stochastic state: Mean adds the SDE drift, Euler the ODE drift.
  auto before_last = recorded.trajectory[14];
  auto ts = torch::full({6}, 0.96, torch::kFloat64);
  auto v = oracle().velocity(transport.path_sampler(), before_last, ts);
  auto s = oracle().score(transport.path_sampler(), before_last, ts);
  CHECK(max_error(recorded.sample, before_last + (v + 0.04 * s) * 0.04) <
        1e-12);  // w = sigma = 0.04
  auto euler = sampler.sample_sde(x, oracle_model(transport), options.last_step(LastStep::Euler),
                                  replayed_noise(torch::stack(draws)));
  CHECK(max_error(euler.sample, before_last + v * 0.04) < 1e-12);
  auto tweedie =
      sampler.sample_sde(x, oracle_model(transport), options.last_step(LastStep::Tweedie),
                         replayed_noise(torch::stack(draws)));
  CHECK(max_error(tweedie.sample, (before_last + 0.04 * 0.04 * s) / 0.96) < 1e-12);
  auto none = sampler.sample_sde(x, oracle_model(transport), options.last_step(LastStep::None),
                                 gaussian_noise());
  CHECK(none.time_grid[-1].item<double>() == 1.0);
  CHECK(none.model_evaluations == 15);
}

TEST_CASE("exact-divergence likelihood equals the analytic log-density",
          "[transport][likelihood]") {
  auto data = oracle().sample(16, at::detail::createCPUGenerator(8));
  for (PathType path_type : {PathType::Linear, PathType::GVP}) {
    Transport transport(TransportOptions().path_type(path_type));
    Sampler sampler(transport);
    auto result = sampler.sample_ode_likelihood(
        data, oracle_model(transport),
        SamplerOptions().num_steps(50).divergence(Divergence::Exact).rtol(1e-9).atol(1e-11));
    CHECK(max_error(result.logp, oracle().log_density(data)) < 1e-6);
    CHECK(max_error(result.prior_sample,
                    oracle().transport_map(transport.path_sampler(), data, 1, 0)) < 1e-6);
    auto bpd = bits_per_dim(result.logp, 3);
    CHECK(bpd[0].item<double>() == Approx(-result.logp[0].item<double>() / (3 * std::log(2.0))));
  }
}

TEST_CASE("Hutchinson likelihood is unbiased within its standard error",
          "[transport][likelihood]") {
  Transport transport;
  Sampler sampler(transport);
  const int64_t copies = 2000;
  auto point = oracle().sample(1, at::detail::createCPUGenerator(9));
  auto data = point.expand({copies, 3}).contiguous();
  // A fixed-step solver keeps every copy on the same steps; the probes differ per copy and step.
  auto options = SamplerOptions().ode_method(OdeMethod::RK4).num_steps(41);
  auto exact = sampler.sample_ode_likelihood(data.narrow(0, 0, 1), oracle_model(transport),
                                             options.divergence(Divergence::Exact));
  auto estimate = sampler.sample_ode_likelihood(
      data, oracle_model(transport),
      options.divergence(Divergence::Hutchinson).generator(at::detail::createCPUGenerator(10)));
  const double standard_error = (estimate.logp.std() / std::sqrt(double(copies))).item<double>();
  CHECK(standard_error > 1e-3);  // the covariance is not diagonal: the probes do add noise
  CHECK(std::abs(estimate.logp.mean().item<double>() - exact.logp[0].item<double>()) <
        4 * standard_error);
  CHECK(exact.logp[0].item<double>() ==
        Approx(oracle().log_density(point)[0].item<double>()).margin(1e-4));
}
