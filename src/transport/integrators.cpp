#include <sit/transport/integrators.h>

#include <cmath>

#include "transport/generator.h"

namespace sit::transport {

torch::Tensor time_grid(double t0, double t1, int64_t num_steps) {
  TORCH_CHECK(num_steps >= 2,
              "time_grid: num_steps counts grid points and must be at least 2, "
              "but got ",
              num_steps);
  return torch::linspace(t0, t1, num_steps, torch::kFloat32);
}

NoiseFn gaussian_noise(std::optional<torch::Generator> generator) {
  return [generator](int64_t, const torch::Tensor& x) {
    return torch::randn(x.sizes(), detail::to_c10(generator), torch::kFloat32).to(x.options());
  };
}

NoiseFn replayed_noise(torch::Tensor draws) {
  return [draws = std::move(draws)](int64_t step, const torch::Tensor& x) {
    TORCH_CHECK(step < draws.size(0), "replayed_noise: ", draws.size(0),
                " recorded steps, but step ", step, " was asked for");
    auto w = draws[step];
    TORCH_CHECK(w.sizes() == x.sizes(), "replayed_noise: recorded draws of shape ", w.sizes(),
                " for a state of shape ", x.sizes());
    return w.to(x.options());
  };
}

SdeIntegration sde_integrate(const ModelFn& drift, const ModelFn& diffusion,
                             const torch::Tensor& init, const torch::Tensor& t, SdeMethod method,
                             const NoiseFn& noise, bool keep_trajectory) {
  TORCH_CHECK(t.dim() == 1 && t.numel() >= 2,
              "sde_integrate: t must be a 1-D grid of at least 2 "
              "points, but got ",
              t.sizes());
  TORCH_CHECK(t[0].item<double>() < t[-1].item<double>(),
              "sde_integrate: the SDE sampler has to be in forward time");
  torch::NoGradGuard no_grad;
  auto dt = (t[1] - t[0]).to(init.device());  // 0-dim, t's dtype: one dt for every step
  auto sqrt_dt = torch::sqrt(dt);
  const int64_t n = init.size(0);
  SdeIntegration result;
  auto x = init;
  for (int64_t i = 0; i + 1 < t.size(0); ++i) {
    auto dw = noise(i, x) * sqrt_dt;
    auto t_cur = torch::ones({n}, x.options()) * t[i].to(x.device());
    if (method == SdeMethod::Euler) {
      auto mean_x = x + drift(x, t_cur) * dt;
      x = mean_x + torch::sqrt(2 * diffusion(x, t_cur)) * dw;
    } else {
      auto xhat = x + torch::sqrt(2 * diffusion(x, t_cur)) * dw;
      auto k1 = drift(xhat, t_cur);
      auto xp = xhat + dt * k1;
      auto k2 = drift(xp, t_cur + dt);
      x = xhat + 0.5 * dt * (k1 + k2);
    }
    if (keep_trajectory) result.trajectory.push_back(x);
  }
  result.final = x;
  return result;
}

}  // namespace sit::transport
