#pragma once
// Transport: what the model predicts on which path, the time intervals, the training loss and the
// maps from a model output to the probability-flow drift and to the score (the official
// transport/transport.py `Transport` and transport/__init__.py `create_transport`).

#include <sit/config/fields.h>
#include <sit/transport/path.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace sit::transport {

/// The network as the samplers see it: x: (N, C, H, W) state, t: (N,) times -> the model output,
/// shaped like x. Labels, guidance and the like are captured by the caller.
using ModelFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;

/// Which quantity the model predicts.
enum class ModelType { Velocity, Score, Noise };
/// Which interpolant path.
enum class PathType { Linear, GVP, VP };
/// Loss weighting of score and noise models.
enum class WeightType { None, Velocity, Likelihood };

constexpr auto enum_table(ModelType) {
  return config::EnumTable<ModelType, 3>{"prediction", {{{ModelType::Velocity, "velocity"}, {ModelType::Score, "score"}, {ModelType::Noise, "noise"}}}};
}
constexpr auto enum_table(PathType) {
  return config::EnumTable<PathType, 3>{"path type", {{{PathType::Linear, "Linear"}, {PathType::GVP, "GVP"}, {PathType::VP, "VP"}}}};
}
/// "None" is train.py's default (Python's None).
constexpr auto enum_table(WeightType) {
  return config::EnumTable<WeightType, 3>{"loss weight", {{{WeightType::None, "None"}, {WeightType::Velocity, "velocity"}, {WeightType::Likelihood, "likelihood"}}}};
}
/// The distribution of the training times: the official uniform one, or SD3's logit-normal.
enum class TimeSampling { Uniform, LogitNormal };
constexpr auto enum_table(TimeSampling) {
  return config::EnumTable<TimeSampling, 2>{"time sampling", {{{TimeSampling::Uniform, "uniform"}, {TimeSampling::LogitNormal, "logit-normal"}}}};
}
/// The vectors whose directions the cosine loss compares: each pixel's C channels (LightningDiT's
/// dim=1), each of the model's p x p x C patches, or the whole sample.
enum class CosineLossOver { Channel, Patch, Sample };
constexpr auto enum_table(CosineLossOver) {
  return config::EnumTable<CosineLossOver, 3>{"cosine loss vectors", {{{CosineLossOver::Channel, "channel"}, {CosineLossOver::Patch, "patch"}, {CosineLossOver::Sample, "sample"}}}};
}

/// The create_transport arguments, and the transport settings of train.py and sample.py
/// (train_utils.py's parse_transport_args). An unset eps takes the official default: VP 1e-5
/// (train) and 1e-3 (sample); score or noise on Linear/GVP 1e-3 and 1e-3; velocity on Linear/GVP is
/// stable everywhere and always gets 0 and 0, whatever is given. Unlike create_transport, a given
/// sample_eps is kept even when train_eps is left unset.
///
/// Beyond the official settings, two of the training loss (LightningDiT's create_transport has
/// both): the time distribution and the cosine loss. Times are in SiT's convention, t = 1 at the
/// data: logit-normal times are t = sigmoid(logit_mean + logit_std n), n ~ N(0, 1), so SD3's and
/// MeanFlow's mean (t = 1 at the noise, t_SD3 = 1 - t) is -logit_mean here (MeanFlow's (-0.4, 1)
/// is logit_mean 0.4). Either distribution is mapped onto the training interval [t0, t1] as
/// LightningDiT maps it, t0 + (t1 - t0) t.
struct TransportOptions {
  TORCH_ARG(PathType, path_type) = PathType::Linear;
  TORCH_ARG(ModelType, prediction) = ModelType::Velocity;
  TORCH_ARG(WeightType, loss_weight) = WeightType::None;
  TORCH_ARG(std::optional<double>, train_eps) = std::nullopt;
  TORCH_ARG(std::optional<double>, sample_eps) = std::nullopt;
  TORCH_ARG(TimeSampling, time_sampling) = TimeSampling::Uniform;
  TORCH_ARG(double, logit_mean) = 0.0;
  TORCH_ARG(double, logit_std) = 1.0;
  TORCH_ARG(double, cosine_loss_weight) = 0.0;
  TORCH_ARG(CosineLossOver, cosine_loss_over) = CosineLossOver::Patch;

 public:
  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("path_type", self.path_type(), "interpolant path");
    field("prediction", self.prediction(), "what the model predicts");
    field("loss_weight", self.loss_weight(), "loss weighting of score and noise models");
    field("train_eps", self.train_eps(), "training interval margin (default: the path's)", config::half_open(0, 0.5));
    field("sample_eps", self.sample_eps(), "sampling interval margin (default: the path's)", config::half_open(0, 0.5));
    field("time_sampling", self.time_sampling(),
          "training time distribution, mapped onto the training interval (logit-normal: SD3's, "
          "t = sigmoid(m + s n) with t = 1 at the data)");
    field("logit_mean", self.logit_mean(),
          "logit-normal mean m, t = 1 at the data (SD3's and MeanFlow's m, t = 1 at the noise, is -m here)");
    field("logit_std", self.logit_std(), "logit-normal scale s", config::positive);
    field("cosine_loss_weight", self.cosine_loss_weight(),
          "weight of LightningDiT's 1 - cos(v_pred, v) added to the velocity loss (0: off)", config::non_negative);
    field("cosine_loss_over", self.cosine_loss_over(),
          "the vectors of the cosine loss: channel (LightningDiT's dim=1; constant for 1 channel), "
          "patch (the model's p x p x C; LightningDiT's at patch 1), sample");
  }
  /// Throws ConfigError for an eps outside [0, 0.5), a non-finite logit mean, a non-positive
  /// logit scale, logit settings without logit-normal times, a negative cosine loss weight or one
  /// for a model that does not predict the velocity.
  void validate() const;
};

/// The check_interval keyword arguments.
struct IntervalOptions {
  TORCH_ARG(DiffusionForm, diffusion_form) = DiffusionForm::SBDM;
  TORCH_ARG(bool, sde) = false;
  TORCH_ARG(bool, reverse) = false;
  /// Use sample_eps (sampling) rather than train_eps (training).
  TORCH_ARG(bool, eval) = false;
  TORCH_ARG(double, last_step_size) = 0.0;
};

/// A time interval [t0, t1] (t0 > t1 when reversed).
struct Interval {
  double t0;
  double t1;
};

/// training_losses' result: the per-sample loss (mean over non-batch dimensions) and the model
/// prediction it was computed from.
struct TrainingLosses {
  torch::Tensor loss;  // (N,)
  torch::Tensor pred;  // (N, ...)
};

/// LightningDiT's cosine loss: the mean of 1 - cos(pred, target) over the vectors `over` names,
/// per sample: pred, target: (N, C, H, W) -> (N,). Patches are patch_size x patch_size x C.
torch::Tensor cosine_loss(const torch::Tensor& pred, const torch::Tensor& target, CosineLossOver over,
                          int64_t patch_size);

class Transport {
 public:
  /// patch_size: the model's patch, the vectors of the cosine loss over patches.
  explicit Transport(TransportOptions options = {}, int64_t patch_size = 1);

  ModelType model_type() const { return model_type_; }
  PathType path_type() const { return path_type_; }
  WeightType loss_type() const { return loss_type_; }
  double train_eps() const { return train_eps_; }
  double sample_eps() const { return sample_eps_; }
  const Path& path_sampler() const { return *path_sampler_; }

  /// The integration interval of a training draw, an ODE or an SDE. Paths and predictions whose
  /// field is singular at an end stop eps (or the SDE's last step) short of it:
  ///  - VP: t1 = 1 - eps (1 - last_step_size for an SDE with a last step);
  ///  - Linear/GVP with a score or noise model, or any SDE: the same t1, and t0 = eps for score or
  ///    noise models and for the SBDM diffusion;
  ///  - reverse maps both ends through t -> 1 - t.
  Interval check_interval(const IntervalOptions& options = {}) const;

  /// Training times from uniforms u: (N,) on [0, 1) -> (N,) on the training interval [t0, t1]:
  /// t0 + (t1 - t0) q(u), with q the quantile function of the time distribution, u itself or
  /// the logit-normal's sigmoid(m + s sqrt(2) erfinv(2u - 1)). Inverse-CDF sampling: the times
  /// have the distribution exactly, and one uniform per example keeps its draw per example.
  torch::Tensor training_times(const torch::Tensor& u) const;

  /// The official training loss at data x1: (N, ...). x0 (noise) defaults to randn_like(x1) and
  /// t: (N,) to training_times of uniform draws, drawn in that order from `generator`.
  /// Velocity models: |v - u_t|^2 (plus cosine_loss_weight times the cosine loss); noise models:
  /// w |eps - x0|^2; score models: w |sigma_t s + x0|^2, with w = 1, (drift_var / sigma_t)^2 or
  /// drift_var / sigma_t^2.
  TrainingLosses training_losses(const ModelFn& model, const torch::Tensor& x1,
                                 const std::optional<torch::Tensor>& x0 = std::nullopt,
                                 const std::optional<torch::Tensor>& t = std::nullopt,
                                 std::optional<torch::Generator> generator = std::nullopt) const;

  /// The probability-flow ODE velocity given the model output at (x, t) (get_drift's body).
  torch::Tensor drift_from_output(const torch::Tensor& model_output, const torch::Tensor& x,
                                  const torch::Tensor& t) const;
  /// The score grad log p_t(x) given the model output at (x, t) (get_score's body).
  torch::Tensor score_from_output(const torch::Tensor& model_output, const torch::Tensor& x,
                                  const torch::Tensor& t) const;
  /// The drift of the probability-flow ODE as a function of (x, t).
  ModelFn get_drift(ModelFn model) const;
  /// The score as a function of (x, t).
  ModelFn get_score(ModelFn model) const;

  /// log N(z; 0, I) per sample: z: (N, ...) -> (N,).
  torch::Tensor prior_logp(const torch::Tensor& z) const;

 private:
  ModelType model_type_;
  PathType path_type_;
  WeightType loss_type_;
  double train_eps_;
  double sample_eps_;
  TransportOptions options_;
  int64_t patch_size_;
  std::shared_ptr<const Path> path_sampler_;
};

}  // namespace sit::transport
