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

/// The sample_ode arguments. For torchdiffeq's solvers num_steps counts the points of the time
/// grid: a fixed-step solver takes num_steps - 1 steps; an adaptive one returns the grid points
/// by interpolation. A multistep solver takes num_steps steps of one model evaluation each, on a
/// grid of num_steps + 1 points.
struct OdeSamplerOptions {
  TORCH_ARG(OdeMethod, sampling_method) = OdeMethod::Dopri5;
  TORCH_ARG(int64_t, num_steps) = 50;
  /// The fixed-step solvers' grid (time_grid.h); adaptive solvers take the uniform one.
  TORCH_ARG(TimeGridOptions, grid) = {};
  TORCH_ARG(double, atol) = 1e-6;
  TORCH_ARG(double, rtol) = 1e-3;
  /// Data to noise.
  TORCH_ARG(bool, reverse) = false;
  /// Also return the state at every grid point.
  TORCH_ARG(bool, trajectory) = false;
};

/// The sample_sde arguments: num_steps - 1 stochastic steps on linspace(t0, t1 = 1 -
/// last_step_size) then the last step of size last_step_size (t1 = 1 - eps with LastStep::None).
struct SdeSamplerOptions {
  TORCH_ARG(SdeMethod, sampling_method) = SdeMethod::Euler;
  TORCH_ARG(DiffusionForm, diffusion_form) = DiffusionForm::SBDM;
  TORCH_ARG(double, diffusion_norm) = 1.0;
  TORCH_ARG(LastStep, last_step) = LastStep::Mean;
  TORCH_ARG(double, last_step_size) = 0.04;
  TORCH_ARG(int64_t, num_steps) = 250;
  /// Also return the state after every step.
  TORCH_ARG(bool, trajectory) = false;
};

/// The sample_ode_likelihood arguments.
struct LikelihoodOptions {
  TORCH_ARG(OdeMethod, sampling_method) = OdeMethod::Dopri5;
  TORCH_ARG(int64_t, num_steps) = 50;
  TORCH_ARG(double, atol) = 1e-6;
  TORCH_ARG(double, rtol) = 1e-3;
  TORCH_ARG(Divergence, divergence) = Divergence::Hutchinson;
  /// Source of the Hutchinson probes (the default generator when unset).
  TORCH_ARG(std::optional<torch::Generator>, generator) = std::nullopt;
};

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

  /// Noise to data (data to noise with reverse, torchdiffeq's and the Adams solvers) from x: (N, ...).
  SampleResult sample_ode(const torch::Tensor& x, const ModelFn& model,
                          const OdeSamplerOptions& options = {}) const;

  /// Noise to data from x: (N, ...), with noise (default gaussian_noise()) giving each step's draw.
  SampleResult sample_sde(const torch::Tensor& x, const ModelFn& model,
                          const SdeSamplerOptions& options = {},
                          const NoiseFn& noise = nullptr) const;

  /// log p(x) of data x: (N, ...) through the probability-flow ODE to the N(0, I) prior:
  /// log p(x) = log N(z; 0, I) - int div v dt along the path from x to z.
  LikelihoodResult sample_ode_likelihood(const torch::Tensor& x, const ModelFn& model,
                                         const LikelihoodOptions& options = {}) const;

 private:
  Transport transport_;
};

}  // namespace sit::transport
