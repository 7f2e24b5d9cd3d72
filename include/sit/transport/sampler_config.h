#pragma once
// How a run samples: sample.py's mode (ODE or SDE), parse_ode_args and parse_sde_args, with their
// defaults. The mode's own options sit in ode_fields / sde_fields, which a program binds to that
// mode's subcommand (both spell the solver --sampling-method).

#include <sit/config/fields.h>
#include <sit/transport/sampler.h>

namespace sit::transport {

enum class SamplerMode { ODE, SDE };
constexpr auto enum_table(SamplerMode) {
  return config::EnumTable<SamplerMode, 2>{"sampler mode", {{{SamplerMode::ODE, "ODE"}, {SamplerMode::SDE, "SDE"}}}};
}

struct SamplerConfig {
  SamplerMode mode = SamplerMode::ODE;
  int64_t num_sampling_steps = 250;
  // ODE
  OdeMethod ode_method = OdeMethod::Dopri5;
  TimeGrid time_grid = TimeGrid::Uniform;
  double time_shift = 1.0;
  double rho = 7.0;
  double atol = 1e-6;
  double rtol = 1e-3;
  bool reverse = false;
  bool likelihood = false;
  // SDE
  SdeMethod sde_method = SdeMethod::Euler;
  DiffusionForm diffusion_form = DiffusionForm::Sigma;
  double diffusion_norm = 1.0;
  LastStep last_step = LastStep::Mean;
  double last_step_size = 0.04;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("num_sampling_steps", self.num_sampling_steps,
          "time grid points (fixed-step ODE solvers take one step fewer); the multistep ODE solvers' "
          "steps, one model evaluation each");
  }
  template <typename Self, typename Field>
  static void ode_fields(Self& self, Field&& field) {
    field("sampling_method", self.ode_method,
          "ODE solver: torchdiffeq's (euler ... adaptive_heun) or multistep: DPM-Solver++ (dpmpp_2m, "
          "dpmpp_3m), UniPC bh2 (unipc: order 2, unipc3), Adams-Bashforth (adams2-4)");
    field("time_grid", self.time_grid,
          "fixed-step time grid: uniform (the official) or edm (Karras' rho-schedule on the noise-to-signal ratio)");
    field("time_shift", self.time_shift,
          "SD3's shift s of the noise level sigma = 1 - t: s > 1 spends more steps near noise "
          "(LightningDiT's timestep_shift a is s = 1/a)");
    field("rho", self.rho, "rho of --time-grid edm");
    field("atol", self.atol, "absolute tolerance of the adaptive solvers");
    field("rtol", self.rtol, "relative tolerance of the adaptive solvers");
    field("reverse", self.reverse, "integrate from data to noise");
    field("likelihood", self.likelihood, "the log-likelihood of --noise taken as data (no guidance)");
  }
  template <typename Self, typename Field>
  static void sde_fields(Self& self, Field&& field) {
    field("sampling_method", self.sde_method, "SDE integrator");
    field("diffusion_form", self.diffusion_form, "form of the diffusion coefficient w_t");
    field("diffusion_norm", self.diffusion_norm, "scale of the diffusion coefficient");
    field("last_step", self.last_step, "the final step from 1 - last_step_size");
    field("last_step_size", self.last_step_size, "size of the final step");
  }

  /// Throws ConfigError: fewer than 2 grid points (1 step for multistep solvers), non-positive
  /// tolerances, shift or rho, a non-uniform grid with an adaptive solver, a multistep solver with
  /// --likelihood or (DPM-Solver++, UniPC) --reverse, a last step size outside (0, 1), a negative
  /// diffusion norm, --likelihood or --reverse with the SDE.
  void validate() const;

  OdeSamplerOptions ode_options() const;
  SdeSamplerOptions sde_options() const;
  LikelihoodOptions likelihood_options() const;
};

}  // namespace sit::transport
