#include <sit/train/checkpoint_settings.h>

#include <sit/nn/presets.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace sit::train {

namespace {

using Kind = io::Value::Kind;

nlohmann::json value_to_json(const io::Value& value, const std::string& key, const std::string& source) {
  switch (value.kind()) {
    case Kind::None: return nullptr;
    case Kind::Bool: return value.to_bool();
    case Kind::Int: return value.to_int();
    case Kind::Float: return value.to_double();
    case Kind::String: return value.to_string();
    default:
      throw config::ConfigError(source + ": args entry '" + key + "' is a " + io::kind_name(value.kind()) +
                                ", not a setting");
  }
}

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

std::optional<TrainConfig> saved_train_config(const Checkpoint& checkpoint, const std::string& source) {
  if (auto it = checkpoint.metadata.find(kConfigMetadataKey); it != checkpoint.metadata.end()) {
    return TrainConfig::from_json(it->second);
  }
  if (!checkpoint.args.is(Kind::Dict)) return std::nullopt;
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, value] : checkpoint.args.to_dict().items) {
    if (!key.is(Kind::String)) throw config::ConfigError(source + ": args has a non-string key");
    json[key.to_string()] = value_to_json(value, key.to_string(), source);
  }
  try {
    return TrainConfig::from_json(json.dump());
  } catch (const config::ConfigError& e) {
    throw config::ConfigError(source + ": " + e.what());
  }
}

CheckpointSettings checkpoint_settings(const Checkpoint& checkpoint, const std::string& source) {
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
