#include <sit/transport/sampler.h>

#include <cmath>

#include "transport/multistep.h"

namespace sit::transport {

torch::Tensor bits_per_dim(const torch::Tensor& logp, int64_t dimensions) {
  return -logp / (static_cast<double>(dimensions) * std::log(2.0));
}

Sampler::Sampler(Transport transport) : transport_(std::move(transport)) {}

namespace {

// The time a model sees for a 0-dim solver time: (N,), as the official th.ones(N) * t.
torch::Tensor batch_time(const torch::Tensor& time, const torch::Tensor& x) {
  return torch::ones({x.size(0)}, x.options()) * time;
}

}  // namespace

void SamplerOptions::validate() const {
  using config::require;
  config::check_ranges(*this);
  const bool ode = mode() == SamplerMode::ODE;
  const bool multistep = ode && is_multistep(ode_method());
  const bool mean_flow = ode && ode_method() == OdeMethod::MeanFlow;
  if (!multistep && !mean_flow) {
    require(num_steps() >= 2, "num_sampling_steps", std::to_string(num_steps()), "the time grid needs at least 2 points");
  }
  if (ode) {
    config::check_ranges(*this, [](const SamplerOptions& o, auto&& field) { ode_fields(o, field); });
    const std::string method = config::enum_name(ode_method());
    if (is_adaptive(ode_method())) {
      require(grid().kind() == TimeGrid::Uniform, "time_grid", config::enum_name(grid().kind()),
              "needs a fixed-step solver (" + method + " chooses its own steps)");
      require(grid().shift() == 1.0, "time_shift", config::text(grid().shift()),
              "needs a fixed-step solver (" + method + " chooses its own steps)");
    }
    require(!likelihood() || grid().is_uniform(), "likelihood", "",
            "integrates on the uniform grid: drop " + config::setting("time_grid") + " and " + config::setting("time_shift"));
    if (multistep) {
      require(!likelihood(), "likelihood", "", "needs one of torchdiffeq's solvers, not " + method);
      const bool adams = ode_method() == OdeMethod::Adams2 || ode_method() == OdeMethod::Adams3 ||
                         ode_method() == OdeMethod::Adams4;
      require(!reverse() || adams, "reverse", "",
              "needs an Adams or torchdiffeq solver (" + method + " steps on the data prediction)");
    }
    require(!(reverse() && likelihood()), "reverse", "", "and " + config::setting("likelihood") + " exclude each other");
    if (mean_flow) {
      require(!likelihood(), "likelihood", "", "needs one of torchdiffeq's solvers, not meanflow");
      require(!reverse(), "reverse", "", "needs an ODE solver (meanflow steps from noise to data)");
    }
  } else {
    config::check_ranges(*this, [](const SamplerOptions& o, auto&& field) { sde_fields(o, field); });
    if (last_step() != LastStep::None) {  // a size of the final step the field's range cannot say alone
      config::check_range("last_step_size", last_step_size(), config::open(0, 1));
    }
  }
}

SampleResult Sampler::sample(const torch::Tensor& x, const ModelFn& model, const SamplerOptions& options,
                             const NoiseFn& noise) const {
  return options.mode() == SamplerMode::ODE ? sample_ode(x, model, options) : sample_sde(x, model, options, noise);
}

SampleResult Sampler::sample_ode(const torch::Tensor& x, const ModelFn& model, const SamplerOptions& options) const {
  SamplerOptions(options).mode(SamplerMode::ODE).validate();
  const OdeMethod method = options.ode_method();
  TORCH_CHECK(method != OdeMethod::MeanFlow, "sample_ode: meanflow steps an average-velocity model, "
              "Sampler::sample_mean_flow");
  auto [t0, t1] =
      transport_.check_interval(IntervalOptions().eval(true).reverse(options.reverse()));
  const bool multistep = is_multistep(method);
  auto t = sampling_grid(t0, t1, options.num_steps() + (multistep ? 1 : 0), options.grid());
  torch::NoGradGuard no_grad;
  if (multistep) {
    detail::VelocityFn velocity = [&](double time, const torch::Tensor& y) {
      auto tb = torch::full({y.size(0)}, time, y.options());
      return transport_.drift_from_output(model(y, tb), y, tb);
    };
    auto t_cpu = t.to(torch::kFloat64).contiguous();
    std::vector<double> times(t_cpu.data_ptr<double>(), t_cpu.data_ptr<double>() + t_cpu.numel());
    auto solution = detail::integrate_multistep(method, transport_.path_sampler(), velocity, x, times,
                                                options.trajectory());
    return {solution.final, solution.trajectory, t, solution.function_evaluations};
  }
  OdeFunc drift = [&](const torch::Tensor& time, const torch::Tensor& y) {
    auto tb = batch_time(time, y);
    return transport_.drift_from_output(model(y, tb), y, tb);
  };
  auto solution = odeint(drift, x, t.to(x.device()),
                         OdeintOptions()
                             .method(method)
                             .atol(options.atol())
                             .rtol(options.rtol())
                             .trajectory(options.trajectory()));
  return {solution.final, solution.trajectory, t, solution.function_evaluations};
}

SampleResult Sampler::sample_mean_flow(const torch::Tensor& x, const AverageVelocityModelFn& model,
                                      const SamplerOptions& options) const {
  SamplerOptions(options).mode(SamplerMode::ODE).ode_method(OdeMethod::MeanFlow).validate();
  TORCH_CHECK(transport_.model_type() == ModelType::Velocity && transport_.path_type() == PathType::Linear,
              "sample_mean_flow: MeanFlow models a velocity on the Linear path");
  auto [t0, t1] = transport_.check_interval(IntervalOptions().eval(true));
  auto t = sampling_grid(t0, t1, options.num_steps() + 1, options.grid());  // (steps + 1,) float32
  auto t_cpu = t.to(torch::kFloat64).contiguous();
  const double* times = t_cpu.data_ptr<double>();
  torch::NoGradGuard no_grad;
  auto z = x;
  std::vector<torch::Tensor> trajectory{x};
  for (int64_t i = 0; i < options.num_steps(); ++i) {
    const double h = times[i + 1] - times[i];
    z = z + h * model(z, torch::full({z.size(0)}, times[i], z.options()), h);  // z_r = z_t + (r - t) u
    if (options.trajectory()) trajectory.push_back(z);
  }
  return {z, options.trajectory() ? torch::stack(trajectory) : torch::Tensor(), t, options.num_steps()};
}

SampleResult Sampler::sample_sde(const torch::Tensor& x, const ModelFn& model, const SamplerOptions& options,
                                 const NoiseFn& noise) const {
  SamplerOptions(options).mode(SamplerMode::SDE).validate();
  const LastStep last_step = options.last_step();
  const double last_step_size = last_step == LastStep::None ? 0.0 : options.last_step_size();
  auto [t0, t1] = transport_.check_interval(IntervalOptions()
                                                .diffusion_form(options.diffusion_form())
                                                .sde(true)
                                                .eval(true)
                                                .last_step_size(last_step_size));
  auto t = time_grid(t0, t1, options.num_steps());
  const Path& path = transport_.path_sampler();

  int64_t evaluations = 0;
  ModelFn diffusion = [&](const torch::Tensor& y, const torch::Tensor& tb) {
    return path.compute_diffusion(y, tb, options.diffusion_form(), options.diffusion_norm());
  };
  // v + w_t s from one model evaluation.
  ModelFn sde_drift = [&](const torch::Tensor& y, const torch::Tensor& tb) {
    auto output = model(y, tb);
    ++evaluations;
    return transport_.drift_from_output(output, y, tb) +
           diffusion(y, tb) * transport_.score_from_output(output, y, tb);
  };

  torch::NoGradGuard no_grad;
  auto states = sde_integrate(sde_drift, diffusion, x, t, options.sde_method(),
                              noise ? noise : gaussian_noise(), options.trajectory());
  auto xs = states.final;
  auto ts = torch::full({x.size(0)}, t1, x.options());
  switch (last_step) {
    case LastStep::None:
      break;
    case LastStep::Mean:
      xs = xs + sde_drift(xs, ts) * last_step_size;
      break;
    case LastStep::Tweedie: {
      auto alpha = path.compute_alpha_t(ts).value[0];
      auto sigma = path.compute_sigma_t(ts).value[0];
      auto output = model(xs, ts);
      ++evaluations;
      xs = xs / alpha + sigma.pow(2) / alpha * transport_.score_from_output(output, xs, ts);
      break;
    }
    case LastStep::Euler: {
      auto output = model(xs, ts);
      ++evaluations;
      xs = xs + transport_.drift_from_output(output, xs, ts) * last_step_size;
      break;
    }
  }
  SampleResult result{xs, torch::Tensor(), t, evaluations};
  if (options.trajectory()) {
    states.trajectory.push_back(xs);
    result.trajectory = torch::stack(states.trajectory);
  }
  return result;
}

LikelihoodResult Sampler::sample_ode_likelihood(const torch::Tensor& x, const ModelFn& model,
                                                const SamplerOptions& options) const {
  SamplerOptions(options).mode(SamplerMode::ODE).likelihood(true).reverse(false).validate();
  auto [t0, t1] = transport_.check_interval(IntervalOptions().eval(true));
  auto t = time_grid(t0, t1, options.num_steps());
  const int64_t n = x.size(0), numel = x.numel();

  // The state is [x; log-density change], flattened and joined as torchdiffeq joins tuples.
  // Solver time s runs over [t0, t1] while the model sees t = 1 - s: data to noise.
  int64_t evaluations = 0;
  OdeFunc augmented = [&](const torch::Tensor& time, const torch::Tensor& y) {
    auto xs = y.narrow(0, 0, numel).view(x.sizes());
    auto tb = torch::ones({n}, y.options()) * (1 - time);
    FieldFn drift = [&](const torch::Tensor& xg) {
      ++evaluations;
      return transport_.drift_from_output(model(xg, tb), xg, tb);
    };
    auto [value, div] = divergence(drift, xs, options.divergence(), options.generator());
    return torch::cat({(-value).reshape(-1), div});
  };
  torch::NoGradGuard no_grad;  // divergence() turns grad on where it needs it
  auto y0 = torch::cat({x.reshape(-1), torch::zeros({n}, x.options())});
  auto solution = odeint(augmented, y0, t.to(x.device()),
                         OdeintOptions()
                             .method(options.ode_method())
                             .atol(options.atol())
                             .rtol(options.rtol())
                             .norm(mixed_rms_norm({numel, n})));
  auto z = solution.final.narrow(0, 0, numel).view(x.sizes());
  auto delta_logp = solution.final.narrow(0, numel, n);
  return {transport_.prior_logp(z) - delta_logp, z, evaluations};
}

}  // namespace sit::transport
