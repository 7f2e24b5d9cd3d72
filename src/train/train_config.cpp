#include <sit/nn/presets.h>
#include <sit/train/train_config.h>

#include <set>

namespace sit::train {

void TrainConfig::validate() const {
  model.validate();
  data.validate();
  transport.validate();
  optim.validate();
  repa.validate(model.model.empty() ? model.architecture.depth() : nn::sit_preset(model.model).depth());
  config::require(!repa.enabled() || data.data != DataSource::Latents, "repa_encoder", repa.encoder(),
                  "needs the images, which latent shards do not hold (REPA on latent shards is not yet supported; "
                  "train on --data folder with --vae)");
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
