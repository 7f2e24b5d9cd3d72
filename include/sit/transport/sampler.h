#pragma once
// Sampler: the official transport.py `Sampler`. sample_ode solves the probability-flow ODE,
// sample_sde the reverse-time SDE dX = [v + w_t s] dt + sqrt(2 w_t) dW (v the drift, s the score,
// w_t the diffusion form), sample_ode_likelihood the ODE augmented with the divergence.
//
// Each drift evaluation calls the model once. The official SDE drift calls it twice with the same
// input (once for the drift, once for the score), so its evaluation count is twice ours for
// stochastic steps and the Mean last step; the samples are the same.

#include <sit/config/enum_names.h>
#include <sit/transport/divergence.h>
#include <sit/transport/integrators.h>
#include <sit/transport/odeint.h>
#include <sit/transport/time_grid.h>
#include <sit/transport/transport.h>

#include <optional>
#include <string>

namespace sit::transport {

/// The SDE's final step from t1 (official __get_last_step).
enum class LastStep {
  None,     // keep the last stochastic state
  Mean,     // x + (v + w s) h: the last drift step without noise
  Tweedie,  // E[x1 | x_t] = (x + sigma_t^2 s) / alpha_t, alpha and sigma of the first sample
  Euler     // x + v h: an ODE step
};

constexpr auto enum_table(LastStep) {
  return config::EnumTable<LastStep, 4>{"last step", {{{LastStep::None, "None"}, {LastStep::Mean, "Mean"}, {LastStep::Tweedie, "Tweedie"}, {LastStep::Euler, "Euler"}}}};
}

enum class SamplerMode { ODE, SDE };
constexpr auto enum_table(SamplerMode) {
  return config::EnumTable<SamplerMode, 2>{"sampler mode", {{{SamplerMode::ODE, "ODE"}, {SamplerMode::SDE, "SDE"}}}};
}

/// How a run samples: sample.py's mode, parse_ode_args and parse_sde_args, with sample.py's
/// defaults (the official Sampler methods' own defaults differ: sample_ode takes 50 points,
/// sample_sde the SBDM diffusion). The mode's own settings sit in ode_fields / sde_fields, which a
/// program binds to that mode's subcommand (both spell the solver --sampling-method).
///
/// num_steps counts grid points for torchdiffeq's solvers and the SDE (a fixed-step solver takes
/// num_steps - 1 steps; an adaptive one returns the grid points by interpolation) and steps for a
/// multistep solver (one model evaluation each, on a grid of num_steps + 1 points).
struct SamplerOptions {
  TORCH_ARG(SamplerMode, mode) = SamplerMode::ODE;
  TORCH_ARG(int64_t, num_steps) = 250;
  // ODE
  TORCH_ARG(OdeMethod, ode_method) = OdeMethod::Dopri5;
  /// The fixed-step solvers' grid (time_grid.h); adaptive solvers take the uniform one.
  TORCH_ARG(TimeGridOptions, grid) = {};
  TORCH_ARG(double, atol) = 1e-6;
  TORCH_ARG(double, rtol) = 1e-3;
  /// Data to noise.
  TORCH_ARG(bool, reverse) = false;
  /// The log-likelihood of given data rather than samples (sample_ode_likelihood).
  TORCH_ARG(bool, likelihood) = false;
  /// The likelihood's divergence, and the source of its Hutchinson probes (the default generator
  /// when unset).
  TORCH_ARG(Divergence, divergence) = Divergence::Hutchinson;
  TORCH_ARG(std::optional<torch::Generator>, generator) = std::nullopt;
  // SDE
  TORCH_ARG(SdeMethod, sde_method) = SdeMethod::Euler;
  TORCH_ARG(DiffusionForm, diffusion_form) = DiffusionForm::Sigma;
  TORCH_ARG(double, diffusion_norm) = 1.0;
  TORCH_ARG(LastStep, last_step) = LastStep::Mean;
  TORCH_ARG(double, last_step_size) = 0.04;
  /// Also return the state at every grid point (ODE) or after every step (SDE).
  TORCH_ARG(bool, trajectory) = false;

 public:
  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("num_sampling_steps", self.num_steps(),
          "time grid points (fixed-step ODE solvers take one step fewer); the multistep ODE solvers' "
          "and meanflow's steps, one model evaluation each",
          config::positive);
  }
  template <typename Self, typename Field>
  static void ode_fields(Self& self, Field&& field) {
    field("sampling_method", self.ode_method(),
          "ODE solver: torchdiffeq's (euler ... adaptive_heun) or multistep: DPM-Solver++ (dpmpp_2m, "
          "dpmpp_3m), UniPC bh2 (unipc: order 2, unipc3), Adams-Bashforth (adams2-4); meanflow: MeanFlow's "
          "average-velocity steps (a --meanflow model)");
    TimeGridOptions::fields(self.grid(), field);
    field("atol", self.atol(), "absolute tolerance of the adaptive solvers", config::positive);
    field("rtol", self.rtol(), "relative tolerance of the adaptive solvers", config::positive);
  }
  /// What an ODE run computes other than samples (sit-sample's, not the training grids').
  template <typename Self, typename Field>
  static void ode_task_fields(Self& self, Field&& field) {
    field("reverse", self.reverse(), "integrate from data to noise");
    field("likelihood", self.likelihood(), "the log-likelihood of --noise taken as data (no guidance)");
  }
  template <typename Self, typename Field>
  static void sde_fields(Self& self, Field&& field) {
    field("sampling_method", self.sde_method(), "SDE integrator");
    field("diffusion_form", self.diffusion_form(), "form of the diffusion coefficient w_t");
    field("diffusion_norm", self.diffusion_norm(), "scale of the diffusion coefficient", config::non_negative);
    field("last_step", self.last_step(), "the final step from 1 - last_step_size");
    field("last_step_size", self.last_step_size(), "size of the final step");
  }

  /// Throws ConfigError: fewer than 2 grid points (1 step for multistep solvers and meanflow), non-positive
  /// tolerances, shift or rho, a non-uniform grid with an adaptive solver, a multistep solver with
  /// likelihood or (DPM-Solver++, UniPC) reverse, meanflow with likelihood, reverse or an adaptive
  /// grid setting, a last step size outside (0, 1), a negative
  /// diffusion norm, likelihood or reverse with the SDE. The samplers check their options so.
  void validate() const;
};

/// An average-velocity model (MeanFlow) as its sampler sees it, in SiT's clock: x (N, ...), t (N,)
/// and the interval h -> u(x, t, h), the mean velocity from t to t + h.
using AverageVelocityModelFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t, double h)>;

struct SampleResult {
  torch::Tensor sample;  // the final state, shaped like the initial one
  /// When asked for: ODE (num_steps, ...), the state at every grid point, the initial one first;
  /// SDE (num_steps, ...), the state after each stochastic step, the last step's result last.
  torch::Tensor trajectory;
  torch::Tensor time_grid;  // (points,) float32
  int64_t model_evaluations = 0;
};

struct LikelihoodResult {
  torch::Tensor logp;          // (N,) log-density of the data in nats
  torch::Tensor prior_sample;  // (N, ...) the noise the data maps to
  int64_t model_evaluations = 0;
};

/// -logp / (D ln 2): bits per dimension for D dimensions per sample.
torch::Tensor bits_per_dim(const torch::Tensor& logp, int64_t dimensions);

class Sampler {
 public:
  explicit Sampler(Transport transport);

  const Transport& transport() const { return transport_; }

  /// Noise to data (data to noise with reverse, torchdiffeq's and the Adams solvers) from x: (N, ...),
  /// by options.ode_method().
  SampleResult sample_ode(const torch::Tensor& x, const ModelFn& model, const SamplerOptions& options = {}) const;

  /// Noise to data from x: (N, ...) by options.sde_method(), with noise (default
  /// gaussian_noise()) giving each step's draw.
  SampleResult sample_sde(const torch::Tensor& x, const ModelFn& model, const SamplerOptions& options = {},
                          const NoiseFn& noise = nullptr) const;

  /// Noise to data from x: (N, ...) by MeanFlow's steps z_r = z_t + (r - t) u(z_t, t, r - t)
  /// (MeanFlow's clock: z_r = z_t - (t - r) u) between the options.num_steps() + 1 points of the
  /// grid, one evaluation each: num_steps 1 is one step from noise to data.
  SampleResult sample_mean_flow(const torch::Tensor& x, const AverageVelocityModelFn& model,
                                const SamplerOptions& options) const;

  /// sample_ode or sample_sde, as options.mode() says.
  SampleResult sample(const torch::Tensor& x, const ModelFn& model, const SamplerOptions& options,
                      const NoiseFn& noise = nullptr) const;

  /// log p(x) of data x: (N, ...) through the probability-flow ODE to the N(0, I) prior:
  /// log p(x) = log N(z; 0, I) - int div v dt along the path from x to z (options.ode_method()
  /// on the uniform grid of options.num_steps() points).
  LikelihoodResult sample_ode_likelihood(const torch::Tensor& x, const ModelFn& model,
                                         const SamplerOptions& options = {}) const;

 private:
  Transport transport_;
};

}  // namespace sit::transport
