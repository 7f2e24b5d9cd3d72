#pragma once
// The transport a model was trained with (train_utils.py's parse_transport_args).

#include <sit/config/fields.h>
#include <sit/transport/transport.h>

namespace sit::transport {

struct TransportConfig {
  PathType path_type = PathType::Linear;
  ModelType prediction = ModelType::Velocity;
  WeightType loss_weight = WeightType::None;
  std::optional<double> train_eps;
  std::optional<double> sample_eps;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("path_type", self.path_type, "interpolant path");
    field("prediction", self.prediction, "what the model predicts");
    field("loss_weight", self.loss_weight, "loss weighting of score and noise models");
    field("train_eps", self.train_eps, "training interval margin (default: the path's)");
    field("sample_eps", self.sample_eps, "sampling interval margin (default: the path's)");
  }

  /// Throws ConfigError for an eps outside [0, 0.5).
  void validate() const;
  TransportOptions options() const;
};

}  // namespace sit::transport
