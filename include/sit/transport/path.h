#pragma once
// Interpolant paths x_t = alpha_t x1 + sigma_t x0 (the official transport/path.py): t = 0 is
// noise x0 ~ N(0, I), t = 1 is data x1. Every coefficient is written once here and every loss,
// drift, score conversion and sampler uses it.
//
// Shapes: coefficient functions take t of any shape and work elementwise; functions that also take
// x expect t: (N,) and x: (N, ...) and broadcast t over x's non-batch dimensions.

#include <sit/config/enum_names.h>
#include <torch/torch.h>

#include <string>

namespace sit::transport {

/// Form of the diffusion coefficient w_t of the SDE (the official compute_diffusion `form`).
enum class DiffusionForm {
  Constant,             // norm
  SBDM,                 // norm * (the drift_var of compute_drift): matches score-based diffusion
  Sigma,                // norm * sigma_t
  Linear,               // norm * (1 - t)
  Decreasing,           // 0.25 (norm cos(pi t) + 1)^2
  IncreasingDecreasing  // norm sin^2(pi t); path.py spells it "inccreasing-decreasing"
};

/// sample.py's names (path.py itself tests for "inccreasing-decreasing", so the official
/// increasing-decreasing form is unreachable there).
constexpr auto enum_table(DiffusionForm) {
  return config::EnumTable<DiffusionForm, 6>{"diffusion form", {{{DiffusionForm::Constant, "constant"}, {DiffusionForm::SBDM, "SBDM"}, {DiffusionForm::Sigma, "sigma"}, {DiffusionForm::Linear, "linear"}, {DiffusionForm::Decreasing, "decreasing"}, {DiffusionForm::IncreasingDecreasing, "increasing-decreasing"}}}};
}

/// A path coefficient and its time derivative, e.g. (alpha_t, d_alpha_t).
struct Coefficient {
  torch::Tensor value;
  torch::Tensor derivative;
};

/// The probability-flow terms of compute_drift: the reverse-time drift is
/// -drift_mean + drift_var * score, with drift_mean = -(d_alpha_t / alpha_t) x and
/// drift_var = (d_alpha_t / alpha_t) sigma_t^2 - sigma_t d_sigma_t.
struct DriftTerms {
  torch::Tensor drift_mean;  // (N, ...)
  torch::Tensor drift_var;   // (N, 1, ..., 1)
};

/// One training draw of plan(): the time, the interpolant and its velocity u_t = d x_t / dt.
struct PlanSample {
  torch::Tensor t;   // (N,)
  torch::Tensor xt;  // (N, ...)
  torch::Tensor ut;  // (N, ...)
};

/// t: (N,) -> (N, 1, ..., 1) broadcastable against x: (N, ...).
torch::Tensor expand_t_like_x(const torch::Tensor& t, const torch::Tensor& x);

/// A coupling plan: the official ICPlan interface. Subclasses give alpha_t, sigma_t and a
/// numerically stable d_alpha_t / alpha_t; everything else is derived here once.
class Path {
 public:
  virtual ~Path() = default;

  virtual Coefficient compute_alpha_t(const torch::Tensor& t) const = 0;
  virtual Coefficient compute_sigma_t(const torch::Tensor& t) const = 0;
  virtual torch::Tensor compute_d_alpha_alpha_ratio_t(const torch::Tensor& t) const = 0;

  /// (drift_mean, drift_var) at x: (N, ...), t: (N,).
  virtual DriftTerms compute_drift(const torch::Tensor& x, const torch::Tensor& t) const;

  /// The SDE diffusion w_t of the given form: (N, 1, ..., 1).
  torch::Tensor compute_diffusion(const torch::Tensor& x, const torch::Tensor& t,
                                  DiffusionForm form, double norm = 1.0) const;

  /// score = (alpha_t / d_alpha_t v - x) / (sigma_t^2 - alpha_t / d_alpha_t d_sigma_t sigma_t).
  torch::Tensor get_score_from_velocity(const torch::Tensor& velocity, const torch::Tensor& x,
                                        const torch::Tensor& t) const;
  /// noise = (alpha_t / d_alpha_t v - x) / (alpha_t / d_alpha_t d_sigma_t - sigma_t).
  torch::Tensor get_noise_from_velocity(const torch::Tensor& velocity, const torch::Tensor& x,
                                        const torch::Tensor& t) const;
  /// velocity = drift_var score - drift_mean (the probability-flow ODE).
  torch::Tensor get_velocity_from_score(const torch::Tensor& score, const torch::Tensor& x,
                                        const torch::Tensor& t) const;
  /// score = -noise / sigma_t, since E[x0 | x_t] = -sigma_t grad log p_t(x_t).
  torch::Tensor get_score_from_noise(const torch::Tensor& noise, const torch::Tensor& x,
                                     const torch::Tensor& t) const;

  /// mu_t = alpha_t x1 + sigma_t x0.
  torch::Tensor compute_mu_t(const torch::Tensor& t, const torch::Tensor& x0,
                             const torch::Tensor& x1) const;
  torch::Tensor compute_xt(const torch::Tensor& t, const torch::Tensor& x0,
                           const torch::Tensor& x1) const;
  /// u_t = d_alpha_t x1 + d_sigma_t x0.
  torch::Tensor compute_ut(const torch::Tensor& t, const torch::Tensor& x0,
                           const torch::Tensor& x1) const;
  /// (t, x_t, u_t) for t: (N,), x0 noise and x1 data: (N, ...).
  PlanSample plan(const torch::Tensor& t, const torch::Tensor& x0, const torch::Tensor& x1) const;
};

/// The linear path ("Linear"): alpha_t = t, sigma_t = 1 - t.
class ICPlan : public Path {
 public:
  Coefficient compute_alpha_t(const torch::Tensor& t) const override;
  Coefficient compute_sigma_t(const torch::Tensor& t) const override;
  torch::Tensor compute_d_alpha_alpha_ratio_t(const torch::Tensor& t) const override;
};

/// The generalised variance-preserving path ("GVP"): alpha_t = sin(pi t / 2),
/// sigma_t = cos(pi t / 2).
class GVPCPlan : public Path {
 public:
  Coefficient compute_alpha_t(const torch::Tensor& t) const override;
  Coefficient compute_sigma_t(const torch::Tensor& t) const override;
  torch::Tensor compute_d_alpha_alpha_ratio_t(const torch::Tensor& t) const override;
};

/// The VP-SDE path ("VP") with linear beta(s) from sigma_min to sigma_max in reversed time:
/// log alpha_t = -(1 - t)^2 (sigma_max - sigma_min) / 4 - (1 - t) sigma_min / 2,
/// sigma_t = sqrt(1 - alpha_t^2).
class VPCPlan : public Path {
 public:
  explicit VPCPlan(double sigma_min = 0.1, double sigma_max = 20.0);

  Coefficient compute_alpha_t(const torch::Tensor& t) const override;
  Coefficient compute_sigma_t(const torch::Tensor& t) const override;
  /// d log alpha_t / dt = (1 - t) (sigma_max - sigma_min) / 2 + sigma_min / 2.
  torch::Tensor compute_d_alpha_alpha_ratio_t(const torch::Tensor& t) const override;
  /// (-beta_t x / 2, beta_t / 2), beta_t = sigma_min + (1 - t)(sigma_max - sigma_min): the
  /// general form simplified, exact where sigma_t -> 0.
  DriftTerms compute_drift(const torch::Tensor& x, const torch::Tensor& t) const override;

  double sigma_min() const { return sigma_min_; }
  double sigma_max() const { return sigma_max_; }

 private:
  torch::Tensor log_mean_coeff(const torch::Tensor& t) const;
  double sigma_min_;
  double sigma_max_;
};

}  // namespace sit::transport
