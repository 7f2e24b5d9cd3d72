#include <sit/transport/sampler_config.h>

namespace sit::transport {

void SamplerConfig::validate() const {
  using config::require;
  require(num_sampling_steps >= 2, "num_sampling_steps", std::to_string(num_sampling_steps),
          "the time grid needs at least 2 points");
  if (mode == SamplerMode::ODE) {
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
