#include <sit/train/checkpoint_settings.h>

#include <sit/nn/presets.h>

#include <algorithm>

#include "train/saved_config.h"

namespace sit::train {

namespace {

using Kind = io::Value::Kind;

// The settings sit-train's configuration implies.
CheckpointSettings from_train_config(const TrainConfig& c) {
  CheckpointSettings settings;
  settings.origin = "sit-train's configuration";
  if (!c.model.model.empty()) {
    settings.model = c.model.model;
    settings.num_heads = nn::sit_preset(c.model.model).num_heads();
  } else {
    settings.num_heads = c.model.architecture.num_heads();
  }
  if (c.data.num_classes > 0) settings.num_classes = c.data.num_classes;
  settings.transport = c.transport;
  settings.architecture = c.model.architecture;
  return settings;
}

// An official train.py checkpoint's args: argparse.Namespace, whose state is the dict of flags.
CheckpointSettings from_namespace(const io::Dict& args, const std::string& source) {
  CheckpointSettings settings;
  settings.origin = "train.py's args";
  auto text = [&](const char* key) -> std::optional<std::string> {
    const io::Value* value = args.find(key);
    if (value == nullptr || value->is_none()) return std::nullopt;
    if (!value->is(Kind::String)) throw config::ConfigError(source + ": train.py's args." + key + " is not a string");
    return value->to_string();
  };
  auto number = [&](const char* key) -> std::optional<double> {
    const io::Value* value = args.find(key);
    if (value == nullptr || value->is_none()) return std::nullopt;
    if (!value->is(Kind::Int) && !value->is(Kind::Float)) {
      throw config::ConfigError(source + ": train.py's args." + key + " is not a number");
    }
    return value->to_double();
  };
  auto integer = [&](const char* key) -> std::optional<int64_t> {
    auto value = number(key);
    return value ? std::optional<int64_t>(static_cast<int64_t>(*value)) : std::nullopt;
  };
  if (auto model = text("model")) {
    const auto names = nn::sit_preset_names();
    if (std::find(names.begin(), names.end(), *model) != names.end()) {
      settings.model = model;
      settings.num_heads = nn::sit_preset(*model).num_heads();
    } else {
      settings.fork_model = model;
    }
  }
  settings.num_classes = integer("num_classes");
  settings.image_size = integer("image_size");
  transport::TransportOptions t;
  if (auto path_type = text("path_type")) t.path_type(config::parse_enum<transport::PathType>(*path_type));
  if (auto prediction = text("prediction")) t.prediction(config::parse_enum<transport::ModelType>(*prediction));
  if (auto loss_weight = text("loss_weight")) t.loss_weight(config::parse_enum<transport::WeightType>(*loss_weight));
  t.train_eps(number("train_eps"));
  t.sample_eps(number("sample_eps"));
  settings.transport = t;
  return settings;
}

}  // namespace

std::optional<TrainConfig> saved_train_config(const io::Checkpoint& checkpoint, const std::string& source) {
  if (auto it = checkpoint.metadata.find(kConfigMetadataKey); it != checkpoint.metadata.end()) {
    return TrainConfig::from_json(it->second);
  }
  if (!checkpoint.args.is(Kind::Dict)) return std::nullopt;
  return config_from_args(checkpoint.args.to_dict(), source);
}

CheckpointSettings checkpoint_settings(const io::Checkpoint& checkpoint, const std::string& source) {
  if (auto config = saved_train_config(checkpoint, source)) return from_train_config(*config);
  if (checkpoint.args.is(Kind::Object)) {
    const auto& object = checkpoint.args.to_object();
    if (object.qualified_name() == "argparse.Namespace" && object.state.is(Kind::Dict)) {
      return from_namespace(object.state.to_dict(), source);
    }
  }
  return {};
}

}  // namespace sit::train
