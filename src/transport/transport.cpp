#include <sit/transport/transport.h>

#include <cmath>

#include "transport/generator.h"

namespace sit::transport {

namespace {

std::shared_ptr<const Path> make_path(PathType path_type) {
  switch (path_type) {
    case PathType::Linear:
      return std::make_shared<ICPlan>();
    case PathType::GVP:
      return std::make_shared<GVPCPlan>();
    case PathType::VP:
      return std::make_shared<VPCPlan>();
  }
  TORCH_CHECK(false, "Transport: unknown path type");
}

// Mean over all non-batch dimensions: (N, ...) -> (N,).
torch::Tensor mean_flat(const torch::Tensor& x) {
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < x.dim(); ++d) dims.push_back(d);
  return x.mean(dims);
}

}  // namespace

void TransportOptions::validate() const {
  config::check_ranges(*this);
  config::require(std::isfinite(logit_mean()), "logit_mean", config::text(logit_mean()), "must be finite");
  if (time_sampling() != TimeSampling::LogitNormal) {
    const TransportOptions defaults;
    config::require(logit_mean() == defaults.logit_mean(), "logit_mean", config::text(logit_mean()),
                    "needs " + config::setting("time_sampling") + " logit-normal");
    config::require(logit_std() == defaults.logit_std(), "logit_std", config::text(logit_std()),
                    "needs " + config::setting("time_sampling") + " logit-normal");
  }
  config::require(cosine_loss_weight() == 0 || prediction() == ModelType::Velocity, "cosine_loss_weight",
                  config::text(cosine_loss_weight()),
                  "compares velocities: it needs " + config::setting("prediction") + " velocity, not " + config::enum_name(prediction()));
}

torch::Tensor cosine_loss(const torch::Tensor& pred, const torch::Tensor& target, CosineLossOver over,
                          int64_t patch_size) {
  TORCH_CHECK(pred.dim() == 4 && pred.sizes() == target.sizes(),
              "cosine_loss expects (N, C, H, W) prediction and target of one shape, but got ", pred.sizes(),
              " and ", target.sizes());
  const int64_t N = pred.size(0), C = pred.size(1), H = pred.size(2), W = pred.size(3), p = patch_size;
  auto vectors = [&](const torch::Tensor& x) {  // (N, number of vectors, vector length)
    switch (over) {
      case CosineLossOver::Channel:
        return x.reshape({N, C, H * W}).transpose(1, 2);  // (N, H W, C)
      case CosineLossOver::Patch:
        TORCH_CHECK(p > 0 && H % p == 0 && W % p == 0, "cosine_loss: patches of ", p, " do not tile ", H, "x", W);
        return x.reshape({N, C, H / p, p, W / p, p})
            .permute({0, 2, 4, 1, 3, 5})
            .reshape({N, (H / p) * (W / p), C * p * p});  // (N, T, C p p)
      case CosineLossOver::Sample:
        return x.reshape({N, 1, C * H * W});  // (N, 1, C H W)
    }
    TORCH_CHECK(false, "cosine_loss: unknown vectors");
  };
  return (1 - torch::cosine_similarity(vectors(pred), vectors(target), /*dim=*/2)).mean(1);
}

Transport::Transport(TransportOptions options, int64_t patch_size)
    : model_type_(options.prediction()),
      path_type_(options.path_type()),
      loss_type_(options.loss_weight()),
      options_(options),
      patch_size_(patch_size),
      path_sampler_(make_path(options.path_type())) {
  options.validate();
  if (path_type_ == PathType::VP) {
    train_eps_ = options.train_eps().value_or(1e-5);
    sample_eps_ = options.sample_eps().value_or(1e-3);
  } else if (model_type_ != ModelType::Velocity) {
    train_eps_ = options.train_eps().value_or(1e-3);
    sample_eps_ = options.sample_eps().value_or(1e-3);
  } else {
    train_eps_ = 0.0;
    sample_eps_ = 0.0;
  }
}

Interval Transport::check_interval(const IntervalOptions& options) const {
  double t0 = 0.0, t1 = 1.0;
  const double eps = options.eval() ? sample_eps_ : train_eps_;
  const bool sde = options.sde();
  const double end_gap = (!sde || options.last_step_size() == 0.0) ? eps : options.last_step_size();
  if (path_type_ == PathType::VP) {
    t1 = 1 - end_gap;
  } else if (model_type_ != ModelType::Velocity || sde) {
    // A first semi-implicit step avoids the singular end of score/noise models and of SBDM.
    const bool sbdm = options.diffusion_form() == DiffusionForm::SBDM;
    t0 = ((sbdm && sde) || model_type_ != ModelType::Velocity) ? eps : 0.0;
    t1 = 1 - end_gap;
  }
  if (options.reverse()) return {1 - t0, 1 - t1};
  return {t0, t1};
}

torch::Tensor Transport::training_times(const torch::Tensor& u) const {
  auto [t0, t1] = check_interval();
  if (options_.time_sampling() == TimeSampling::Uniform) return u * (t1 - t0) + t0;
  // The logit-normal's quantile in double: its tails are those of erfinv near +-1.
  auto n = M_SQRT2 * torch::erfinv(2 * u.to(torch::kFloat64) - 1);  // N(0, 1) quantile of u
  auto t = torch::sigmoid(options_.logit_mean() + options_.logit_std() * n);
  return (t * (t1 - t0) + t0).to(u.scalar_type());
}

TrainingLosses Transport::training_losses(const ModelFn& model, const torch::Tensor& x1,
                                          const std::optional<torch::Tensor>& x0_given,
                                          const std::optional<torch::Tensor>& t_given,
                                          std::optional<torch::Generator> generator) const {
  auto x0 =
      x0_given ? *x0_given : torch::randn(x1.sizes(), detail::to_c10(generator), x1.options());
  torch::Tensor t;
  if (t_given) {
    t = *t_given;
  } else {
    t = training_times(torch::rand({x1.size(0)}, detail::to_c10(generator), torch::kFloat32)).to(x1.options());
  }
  auto [t_plan, xt, ut] = path_sampler_->plan(t, x0, x1);
  auto pred = model(xt, t_plan);
  TORCH_CHECK(pred.sizes() == xt.sizes(), "training_losses: the model output must be shaped like ",
              xt.sizes(), ", but got ", pred.sizes());

  if (model_type_ == ModelType::Velocity) {
    auto loss = mean_flat((pred - ut).pow(2));
    if (options_.cosine_loss_weight() == 0) return {loss, pred};
    return {loss + options_.cosine_loss_weight() * cosine_loss(pred, ut, options_.cosine_loss_over(), patch_size_),
            pred};
  }

  auto drift_var = path_sampler_->compute_drift(xt, t).drift_var;
  auto sigma_t = path_sampler_->compute_sigma_t(expand_t_like_x(t, xt)).value;
  auto error = model_type_ == ModelType::Noise ? (pred - x0).pow(2) : (pred * sigma_t + x0).pow(2);
  switch (loss_type_) {
    case WeightType::None:
      break;
    case WeightType::Velocity:
      error = (drift_var / sigma_t).pow(2) * error;
      break;
    case WeightType::Likelihood:
      error = drift_var / sigma_t.pow(2) * error;
      break;
  }
  return {mean_flat(error), pred};
}

torch::Tensor Transport::drift_from_output(const torch::Tensor& model_output,
                                           const torch::Tensor& x, const torch::Tensor& t) const {
  switch (model_type_) {
    case ModelType::Velocity:
      return model_output;
    case ModelType::Score:
      return path_sampler_->get_velocity_from_score(model_output, x, t);
    case ModelType::Noise:
      return path_sampler_->get_velocity_from_score(
          path_sampler_->get_score_from_noise(model_output, x, t), x, t);
  }
  TORCH_CHECK(false, "drift_from_output: unknown model type");
}

torch::Tensor Transport::score_from_output(const torch::Tensor& model_output,
                                           const torch::Tensor& x, const torch::Tensor& t) const {
  switch (model_type_) {
    case ModelType::Velocity:
      return path_sampler_->get_score_from_velocity(model_output, x, t);
    case ModelType::Score:
      return model_output;
    case ModelType::Noise:
      return path_sampler_->get_score_from_noise(model_output, x, t);
  }
  TORCH_CHECK(false, "score_from_output: unknown model type");
}

ModelFn Transport::get_drift(ModelFn model) const {
  return [transport = *this, model = std::move(model)](const torch::Tensor& x,
                                                       const torch::Tensor& t) {
    return transport.drift_from_output(model(x, t), x, t);
  };
}

ModelFn Transport::get_score(ModelFn model) const {
  return [transport = *this, model = std::move(model)](const torch::Tensor& x,
                                                       const torch::Tensor& t) {
    return transport.score_from_output(model(x, t), x, t);
  };
}

torch::Tensor Transport::prior_logp(const torch::Tensor& z) const {
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < z.dim(); ++d) dims.push_back(d);
  const double dimension = static_cast<double>(z[0].numel());
  // -D/2 log(2 pi) - |z|^2 / 2, the constant rounded in z's precision as the official computes it.
  auto constant = torch::tensor(-dimension / 2.0, z.options()) * std::log(2 * M_PI);
  return constant - z.pow(2).sum(dims) / 2.0;
}

}  // namespace sit::transport
