#include <sit/nn/model_config.h>
#include <sit/nn/presets.h>

#include <algorithm>

namespace sit::nn {

std::array<const char*, 4> ModelConfig::free_dimension_keys() {
  return {"patch_size", "depth", "hidden_size", "num_heads"};
}

void ModelConfig::validate() const {
  if (!model.empty()) {
    auto names = sit_preset_names();
    config::require(std::find(names.begin(), names.end(), model) != names.end(), "model", "'" + model + "'",
                    "not a preset; expected " + config::choice_list(names) + ", or '' for the free dimensions");
  }
  config::check_ranges(*this);
  const auto& a = architecture;
  if (model.empty()) {
    config::require(a.hidden_size() % a.num_heads() == 0, "hidden_size", std::to_string(a.hidden_size()),
                    "must be a positive multiple of " + config::setting("num_heads") + " " + std::to_string(a.num_heads()));
  }
  if (a.use_rope()) {
    const auto dims = model.empty() ? a : sit_preset(model);
    const int64_t head_dim = dims.hidden_size() / dims.num_heads();
    config::require(head_dim % 4 == 0, "use_rope", "true",
                    "needs a head dimension (hidden size / heads) divisible by 4, this model's is " +
                        std::to_string(head_dim));
  }
}

SiTOptions ModelConfig::options(std::array<int64_t, 3> shape, int64_t num_classes) const {
  validate();
  auto options = architecture;
  if (!model.empty()) {
    const auto preset = sit_preset(model);
    options.patch_size(preset.patch_size()).depth(preset.depth()).hidden_size(preset.hidden_size())
        .num_heads(preset.num_heads());
  }
  auto [channels, height, width] = shape;
  if (height != width || height % options.patch_size() != 0) {
    throw config::ConfigError("the data's " + std::to_string(height) + "x" + std::to_string(width) +
                              " inputs are not square and divisible by the patch size " +
                              std::to_string(options.patch_size()));
  }
  return options.input_size(height).in_channels(channels).num_classes(num_classes);
}

}  // namespace sit::nn
