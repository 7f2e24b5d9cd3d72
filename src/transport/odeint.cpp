#include <sit/transport/odeint.h>

#include <cmath>
#include <limits>

#include "transport/solvers.h"

namespace sit::transport {

bool is_adaptive(OdeMethod method) {
  return method == OdeMethod::Dopri5 || method == OdeMethod::Bosh3 ||
         method == OdeMethod::AdaptiveHeun;
}

bool is_multistep(OdeMethod method) {
  return method >= OdeMethod::DpmSolver2M && method <= OdeMethod::Adams4;
}

ErrorNorm mixed_rms_norm(std::vector<int64_t> part_sizes) {
  return [part_sizes = std::move(part_sizes)](const torch::Tensor& scaled_error) {
    auto flat = scaled_error.reshape(-1);
    torch::Tensor norm;
    int64_t offset = 0;
    for (int64_t size : part_sizes) {
      auto part = flat.narrow(0, offset, size).abs().pow(2).mean().sqrt();
      norm = norm.defined() ? torch::max(norm, part) : part;
      offset += size;
    }
    TORCH_CHECK(offset == flat.numel(), "mixed_rms_norm: the parts sum to ", offset,
                " elements, but the state has ", flat.numel());
    return norm;
  };
}

namespace detail {

VectorField::VectorField(const OdeFunc& func, const torch::Tensor& y0, bool reversed)
    : func_(func),
      options_(y0.options()),
      single_(y0.scalar_type() == torch::kFloat32),
      reversed_(reversed) {}

torch::Tensor VectorField::operator()(double t, const torch::Tensor& y, bool perturb_prev) {
  double time = round(t);
  if (perturb_prev) {
    time = single_
               ? std::nextafter(static_cast<float>(time), -std::numeric_limits<float>::infinity())
               : std::nextafter(time, -std::numeric_limits<double>::infinity());
  }
  ++evaluations_;
  if (!reversed_) return func_(torch::scalar_tensor(time, options_), y);
  return -func_(torch::scalar_tensor(-time, options_), y);
}

}  // namespace detail

OdeintResult odeint(const OdeFunc& func, const torch::Tensor& y0, const torch::Tensor& t,
                    const OdeintOptions& options) {
  TORCH_CHECK(y0.scalar_type() == torch::kFloat32 || y0.scalar_type() == torch::kFloat64,
              "odeint: y0 must be float32 or float64, but got ", y0.scalar_type());
  TORCH_CHECK(!is_multistep(options.method()) && options.method() != OdeMethod::MeanFlow, "odeint: ",
              config::enum_name(options.method()),
              " needs the transport's path: sample with Sampler::sample_ode");
  TORCH_CHECK(t.dim() == 1 && t.numel() >= 2 && t.is_floating_point(),
              "odeint: t must be a 1-D floating tensor of at least 2 points, but got ", t.sizes());
  auto t_cpu = t.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<double> times(t_cpu.data_ptr<double>(), t_cpu.data_ptr<double>() + t_cpu.numel());
  const bool reversed = times[1] < times[0];
  if (reversed) {
    for (double& time : times) time = -time;
  }
  for (size_t i = 1; i < times.size(); ++i) {
    TORCH_CHECK(times[i] > times[i - 1], "odeint: t must be strictly increasing or decreasing");
  }
  detail::VectorField field(func, y0, reversed);
  if (is_adaptive(options.method())) return detail::integrate_adaptive(field, y0, times, options);
  return detail::integrate_fixed_grid(field, y0, times, t.scalar_type() == torch::kFloat32,
                                      options);
}

}  // namespace sit::transport
