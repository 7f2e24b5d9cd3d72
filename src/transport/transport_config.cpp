#include <sit/transport/transport_config.h>

namespace sit::transport {

void TransportConfig::validate() const {
  for (const auto& [key, eps] : {std::pair{"train_eps", train_eps}, std::pair{"sample_eps", sample_eps}}) {
    if (eps) config::require(*eps >= 0 && *eps < 0.5, key, config::text(*eps), "must be in [0, 0.5)");
  }
}

TransportOptions TransportConfig::options() const {
  validate();
  return TransportOptions()
      .path_type(path_type)
      .prediction(prediction)
      .loss_weight(loss_weight)
      .train_eps(train_eps)
      .sample_eps(sample_eps);
}

}  // namespace sit::transport
