// Each expression keeps the official operation order, so float32 results match path.py bit for
// bit: a Python `scalar / tensor` is `tensor.reciprocal() * scalar`, written out as such here.
#include <sit/transport/path.h>

#include <cmath>

namespace sit::transport {

torch::Tensor expand_t_like_x(const torch::Tensor& t, const torch::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = t.size(0);
  return t.view(shape);
}

DriftTerms Path::compute_drift(const torch::Tensor& x, const torch::Tensor& t) const {
  auto te = expand_t_like_x(t, x);
  auto alpha_ratio = compute_d_alpha_alpha_ratio_t(te);
  auto [sigma_t, d_sigma_t] = compute_sigma_t(te);
  auto drift = alpha_ratio * x;
  auto diffusion = alpha_ratio * sigma_t.pow(2) - sigma_t * d_sigma_t;
  return {-drift, diffusion};
}

torch::Tensor Path::compute_diffusion(const torch::Tensor& x, const torch::Tensor& t,
                                      DiffusionForm form, double norm) const {
  auto te = expand_t_like_x(t, x);
  switch (form) {
    case DiffusionForm::Constant:
      return torch::full_like(te, norm);
    case DiffusionForm::SBDM:
      return norm * compute_drift(x, t).drift_var;
    case DiffusionForm::Sigma:
      return norm * compute_sigma_t(te).value;
    case DiffusionForm::Linear:
      return norm * (1 - te);
    case DiffusionForm::Decreasing:
      return 0.25 * (norm * torch::cos(M_PI * te) + 1).pow(2);
    case DiffusionForm::IncreasingDecreasing:
      return norm * torch::sin(M_PI * te).pow(2);
  }
  TORCH_CHECK(false, "compute_diffusion: unknown diffusion form");
}

torch::Tensor Path::get_score_from_velocity(const torch::Tensor& velocity, const torch::Tensor& x,
                                            const torch::Tensor& t) const {
  auto te = expand_t_like_x(t, x);
  auto [alpha_t, d_alpha_t] = compute_alpha_t(te);
  auto [sigma_t, d_sigma_t] = compute_sigma_t(te);
  auto reverse_alpha_ratio = alpha_t / d_alpha_t;
  auto var = sigma_t.pow(2) - reverse_alpha_ratio * d_sigma_t * sigma_t;
  return (reverse_alpha_ratio * velocity - x) / var;
}

torch::Tensor Path::get_noise_from_velocity(const torch::Tensor& velocity, const torch::Tensor& x,
                                            const torch::Tensor& t) const {
  auto te = expand_t_like_x(t, x);
  auto [alpha_t, d_alpha_t] = compute_alpha_t(te);
  auto [sigma_t, d_sigma_t] = compute_sigma_t(te);
  auto reverse_alpha_ratio = alpha_t / d_alpha_t;
  auto var = reverse_alpha_ratio * d_sigma_t - sigma_t;
  return (reverse_alpha_ratio * velocity - x) / var;
}

torch::Tensor Path::get_velocity_from_score(const torch::Tensor& score, const torch::Tensor& x,
                                            const torch::Tensor& t) const {
  auto [drift_mean, drift_var] = compute_drift(x, t);
  return drift_var * score - drift_mean;
}

torch::Tensor Path::get_score_from_noise(const torch::Tensor& noise, const torch::Tensor& x,
                                         const torch::Tensor& t) const {
  auto sigma_t = compute_sigma_t(expand_t_like_x(t, x)).value;
  return noise / -sigma_t;
}

torch::Tensor Path::compute_mu_t(const torch::Tensor& t, const torch::Tensor& x0,
                                 const torch::Tensor& x1) const {
  auto te = expand_t_like_x(t, x1);
  return compute_alpha_t(te).value * x1 + compute_sigma_t(te).value * x0;
}

torch::Tensor Path::compute_xt(const torch::Tensor& t, const torch::Tensor& x0,
                               const torch::Tensor& x1) const {
  return compute_mu_t(t, x0, x1);
}

torch::Tensor Path::compute_ut(const torch::Tensor& t, const torch::Tensor& x0,
                               const torch::Tensor& x1) const {
  auto te = expand_t_like_x(t, x1);
  return compute_alpha_t(te).derivative * x1 + compute_sigma_t(te).derivative * x0;
}

PlanSample Path::plan(const torch::Tensor& t, const torch::Tensor& x0,
                      const torch::Tensor& x1) const {
  return {t, compute_xt(t, x0, x1), compute_ut(t, x0, x1)};
}

// ---------------------------------------------------------------------------------------------
// Linear

Coefficient ICPlan::compute_alpha_t(const torch::Tensor& t) const {
  return {t, torch::ones_like(t)};
}

Coefficient ICPlan::compute_sigma_t(const torch::Tensor& t) const {
  return {1 - t, torch::full_like(t, -1.0)};
}

torch::Tensor ICPlan::compute_d_alpha_alpha_ratio_t(const torch::Tensor& t) const {
  return t.reciprocal();
}

// ---------------------------------------------------------------------------------------------
// GVP

Coefficient GVPCPlan::compute_alpha_t(const torch::Tensor& t) const {
  auto angle = t * M_PI / 2;
  return {torch::sin(angle), (M_PI / 2) * torch::cos(angle)};
}

Coefficient GVPCPlan::compute_sigma_t(const torch::Tensor& t) const {
  auto angle = t * M_PI / 2;
  return {torch::cos(angle), (-M_PI / 2) * torch::sin(angle)};
}

torch::Tensor GVPCPlan::compute_d_alpha_alpha_ratio_t(const torch::Tensor& t) const {
  // pi / (2 tan(pi t / 2)): finite where alpha_t = sin(pi t / 2) underflows.
  return (2 * torch::tan(t * M_PI / 2)).reciprocal() * M_PI;
}

// ---------------------------------------------------------------------------------------------
// VP

VPCPlan::VPCPlan(double sigma_min, double sigma_max)
    : sigma_min_(sigma_min), sigma_max_(sigma_max) {}

torch::Tensor VPCPlan::log_mean_coeff(const torch::Tensor& t) const {
  return -0.25 * (1 - t).pow(2) * (sigma_max_ - sigma_min_) - 0.5 * (1 - t) * sigma_min_;
}

torch::Tensor VPCPlan::compute_d_alpha_alpha_ratio_t(const torch::Tensor& t) const {
  return 0.5 * (1 - t) * (sigma_max_ - sigma_min_) + 0.5 * sigma_min_;
}

Coefficient VPCPlan::compute_alpha_t(const torch::Tensor& t) const {
  auto alpha_t = torch::exp(log_mean_coeff(t));
  return {alpha_t, alpha_t * compute_d_alpha_alpha_ratio_t(t)};
}

Coefficient VPCPlan::compute_sigma_t(const torch::Tensor& t) const {
  auto alpha_t_squared = torch::exp(2 * log_mean_coeff(t));
  auto sigma_t = torch::sqrt(1 - alpha_t_squared);
  // d sigma_t = d(sqrt(1 - alpha_t^2)) = -alpha_t^2 (d log alpha_t) / sigma_t
  auto d_sigma_t = alpha_t_squared * (2 * compute_d_alpha_alpha_ratio_t(t)) / (-2 * sigma_t);
  return {sigma_t, d_sigma_t};
}

DriftTerms VPCPlan::compute_drift(const torch::Tensor& x, const torch::Tensor& t) const {
  auto te = expand_t_like_x(t, x);
  auto beta_t = sigma_min_ + (1 - te) * (sigma_max_ - sigma_min_);
  return {-0.5 * beta_t * x, beta_t / 2};
}

}  // namespace sit::transport
