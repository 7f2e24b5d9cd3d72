#include <sit/nn/presets.h>
#include <sit/train/train_config.h>

#include <set>

namespace sit::train {

void TrainConfig::validate() const {
  model.validate();
  data.validate();
  transport.validate();
  mean_flow.validate();
  if (model.architecture.meanflow()) {
    config::require(transport.path_type() == transport::PathType::Linear &&
                        transport.prediction() == transport::ModelType::Velocity,
                    "meanflow", "", "trains velocities on the Linear path: drop " + config::setting("path_type") + " and " + config::setting("prediction"));
    config::require(!mean_flow.guided() || model.architecture.class_dropout_prob() > 0, "meanflow_omega",
                    config::text(mean_flow.omega()),
                    "guides toward the null label: needs " + config::setting("class_dropout_prob") + " > 0 (or omega 1 and kappa 0)");
    config::require(transport.time_sampling() == transport::TimeSampling::Uniform, "time_sampling",
                    config::enum_name(transport.time_sampling()),
                    "is flow matching's; MeanFlow draws its own (t, r): " + config::setting("meanflow_p_mean") + ", " + config::setting("meanflow_p_std"));
    config::require(transport.cosine_loss_weight() == 0, "cosine_loss_weight",
                    config::text(transport.cosine_loss_weight()), "is flow matching's, not MeanFlow's loss");
  }
  optim.validate();
  config::require(!repa.enabled() || !model.architecture.meanflow(), "repa_encoder", repa.encoder(),
                  "aligns a flow-matching model's tokens; REPA with " + config::setting("meanflow") + " is not yet supported");
  repa.validate(model.model.empty() ? model.architecture.depth() : nn::sit_preset(model.model).depth());
  config::require(!repa.enabled() || data.data != DataSource::Latents, "repa_encoder", repa.encoder(),
                  "needs the images, which latent shards do not hold (REPA on latent shards is not yet supported; "
                  "train on " + config::setting("data") + " folder with " + config::setting("vae") + ")");
  run.validate();
  eval.validate();
  runtime.validate();
}

bool TrainConfig::per_run(const std::string& key) {
  static const std::set<std::string> keys = [] {
    std::set<std::string> k = {"epochs", "max_steps", "num_workers"};
    const TrainConfig defaults;
    config::for_each_field([&](const char* name, const auto&, const char*, const auto&...) { k.insert(name); },
                           defaults.run, defaults.eval, defaults.runtime);
    return k;
  }();
  return keys.count(key) > 0;
}

}  // namespace sit::train
