#pragma once
// The stochastic integrators of the official transport/integrators.py (`sde`) and the time grid
// both samplers use. The ODE integrator is odeint (odeint.h).

#include <sit/config/enum_names.h>
#include <sit/transport/transport.h>

#include <optional>
#include <string>
#include <vector>

namespace sit::transport {

/// The official time grid: torch.linspace(t0, t1, num_steps) in float32. num_steps counts grid
/// points, so a fixed-step ODE solver takes num_steps - 1 steps.
torch::Tensor time_grid(double t0, double t1, int64_t num_steps);

enum class SdeMethod {
  Euler,  // Euler-Maruyama
  Heun    // stochastic Heun: noise first, then a Heun (trapezoidal) step of the drift
};

constexpr auto enum_table(SdeMethod) {
  return config::EnumTable<SdeMethod, 2>{"SDE method", {{{SdeMethod::Euler, "Euler"}, {SdeMethod::Heun, "Heun"}}}};
}

/// The standard Gaussian draw w of each stochastic step, shaped like the state x: (N, ...);
/// `step` counts from 0.
using NoiseFn = std::function<torch::Tensor(int64_t step, const torch::Tensor& x)>;

/// Fresh draws, as the official th.randn(x.size()).to(x): float32 on the CPU from `generator`
/// (the default generator when unset), then moved to x's dtype and device.
NoiseFn gaussian_noise(std::optional<torch::Generator> generator = std::nullopt);

/// Recorded draws played back in order: draws (steps, N, ...), e.g. a fixture's sde_noise.npy.
NoiseFn replayed_noise(torch::Tensor draws);

/// The states of an SDE integration.
struct SdeIntegration {
  torch::Tensor final;                    // after the last stochastic step
  std::vector<torch::Tensor> trajectory;  // after each step, when asked for
};

/// The official `sde.sample` loop from init: (N, ...): one step from each point of t but the
/// last, all with the constant dt = t[1] - t[0], for dX = drift dt + sqrt(2 diffusion) dW. drift
/// and diffusion take (x, t) with t: (N,) in x's dtype; diffusion returns (N, 1, ..., 1).
SdeIntegration sde_integrate(const ModelFn& drift, const ModelFn& diffusion,
                             const torch::Tensor& init, const torch::Tensor& t, SdeMethod method,
                             const NoiseFn& noise, bool keep_trajectory = false);

}  // namespace sit::transport
