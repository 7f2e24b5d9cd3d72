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

Transport::Transport(TransportOptions options)
    : model_type_(options.prediction()),
      path_type_(options.path_type()),
      loss_type_(options.loss_weight()),
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
    auto [t0, t1] = check_interval();
    t = (torch::rand({x1.size(0)}, detail::to_c10(generator), torch::kFloat32) * (t1 - t0) + t0)
            .to(x1.options());
  }
  auto [t_plan, xt, ut] = path_sampler_->plan(t, x0, x1);
  auto pred = model(xt, t_plan);
  TORCH_CHECK(pred.sizes() == xt.sizes(), "training_losses: the model output must be shaped like ",
              xt.sizes(), ", but got ", pred.sizes());

  if (model_type_ == ModelType::Velocity) return {mean_flat((pred - ut).pow(2)), pred};

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
