#include <sit/nn/model_config.h>
#include <sit/nn/presets.h>

#include <algorithm>

namespace sit::nn {

std::array<const char*, 4> ModelConfig::free_dimension_keys() {
  return {"patch_size", "depth", "hidden_size", "num_heads"};
}

void ModelConfig::validate() const {
  using config::require;
  if (!model.empty()) {
    auto names = sit_preset_names();
    require(std::find(names.begin(), names.end(), model) != names.end(), "model", "'" + model + "'",
            "not a preset; expected " + config::choice_list(names) + ", or '' for the free dimensions");
  } else {
    require(patch_size > 0, "patch_size", std::to_string(patch_size), "must be positive");
    require(depth > 0, "depth", std::to_string(depth), "must be positive");
    require(num_heads > 0, "num_heads", std::to_string(num_heads), "must be positive");
    require(hidden_size > 0 && hidden_size % num_heads == 0, "hidden_size", std::to_string(hidden_size),
            "must be a positive multiple of --num-heads " + std::to_string(num_heads));
  }
  require(mlp_ratio > 0, "mlp_ratio", config::text(mlp_ratio), "must be positive");
  require(class_dropout_prob >= 0 && class_dropout_prob < 1, "class_dropout_prob",
          config::text(class_dropout_prob), "must be in [0, 1)");
}

SiTOptions ModelConfig::options(std::array<int64_t, 3> shape, int64_t num_classes) const {
  validate();
  auto options = model.empty() ? SiTOptions()
                                     .patch_size(patch_size)
                                     .depth(depth)
                                     .hidden_size(hidden_size)
                                     .num_heads(num_heads)
                                 : sit_preset(model);
  auto [channels, height, width] = shape;
  if (height != width || height % options.patch_size() != 0) {
    throw config::ConfigError("the data's " + std::to_string(height) + "x" + std::to_string(width) +
                              " inputs are not square and divisible by the patch size " +
                              std::to_string(options.patch_size()));
  }
  return options.input_size(height)
      .in_channels(channels)
      .num_classes(num_classes)
      .mlp_ratio(mlp_ratio)
      .class_dropout_prob(class_dropout_prob)
      .learn_sigma(learn_sigma);
}

}  // namespace sit::nn
