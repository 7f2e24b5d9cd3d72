#include <sit/transport/sampler_config.h>

namespace sit::transport {

void SamplerConfig::validate() const {
  using config::require;
  const bool multistep = mode == SamplerMode::ODE && is_multistep(ode_method);
  if (multistep) {
    require(num_sampling_steps >= 1, "num_sampling_steps", std::to_string(num_sampling_steps),
            "counts the steps of a multistep solver and must be at least 1");
  } else {
    require(num_sampling_steps >= 2, "num_sampling_steps", std::to_string(num_sampling_steps),
            "the time grid needs at least 2 points");
  }
  if (mode == SamplerMode::ODE) {
    require(time_shift > 0, "time_shift", config::text(time_shift), "must be positive");
    require(rho > 0, "rho", config::text(rho), "must be positive");
    if (is_adaptive(ode_method)) {
      require(time_grid == TimeGrid::Uniform, "time_grid", config::enum_name(time_grid),
              "needs a fixed-step solver (" + config::enum_name(ode_method) + " chooses its own steps)");
      require(time_shift == 1.0, "time_shift", config::text(time_shift),
              "needs a fixed-step solver (" + config::enum_name(ode_method) + " chooses its own steps)");
    }
    require(!likelihood || (time_grid == TimeGrid::Uniform && time_shift == 1.0), "likelihood", "",
            "integrates on the uniform grid: drop --time-grid and --time-shift");
    if (multistep) {
      require(!likelihood, "likelihood", "", "needs one of torchdiffeq's solvers, not " + config::enum_name(ode_method));
      const bool adams = ode_method == OdeMethod::Adams2 || ode_method == OdeMethod::Adams3 ||
                         ode_method == OdeMethod::Adams4;
      require(!reverse || adams, "reverse", "",
              "needs an Adams or torchdiffeq solver (" + config::enum_name(ode_method) + " steps on the data prediction)");
    }
    require(atol > 0, "atol", config::text(atol), "must be positive");
    require(rtol > 0, "rtol", config::text(rtol), "must be positive");
    require(!(reverse && likelihood), "reverse", "", "and --likelihood exclude each other");
  } else {
    require(diffusion_norm >= 0, "diffusion_norm", config::text(diffusion_norm), "must not be negative");
    require(last_step == LastStep::None || (last_step_size > 0 && last_step_size < 1), "last_step_size",
            config::text(last_step_size), "must be in (0, 1)");
  }
}

OdeSamplerOptions SamplerConfig::ode_options() const {
  return OdeSamplerOptions()
      .sampling_method(ode_method)
      .num_steps(num_sampling_steps)
      .grid(TimeGridOptions().kind(time_grid).shift(time_shift).rho(rho))
      .atol(atol)
      .rtol(rtol)
      .reverse(reverse);
}

SdeSamplerOptions SamplerConfig::sde_options() const {
  return SdeSamplerOptions()
      .sampling_method(sde_method)
      .diffusion_form(diffusion_form)
      .diffusion_norm(diffusion_norm)
      .last_step(last_step)
      .last_step_size(last_step_size)
      .num_steps(num_sampling_steps);
}

LikelihoodOptions SamplerConfig::likelihood_options() const {
  return LikelihoodOptions().sampling_method(ode_method).num_steps(num_sampling_steps).atol(atol).rtol(rtol);
}

}  // namespace sit::transport
