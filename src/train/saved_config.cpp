// TrainConfig::to_json and from_json, the "args" dict of a checkpoint, and a resume's merge of
// the saved run with the command line: one JSON object, whose values are the kinds a Python dict
// of settings holds.

#include "train/saved_config.h"

#include <nlohmann/json.hpp>

namespace sit::train {

namespace {

using Json = nlohmann::json;  // an object keeps its keys sorted: the order of both saved forms
using Kind = io::Value::Kind;

template <typename T>
Json field_json(const T& value) {
  if constexpr (std::is_enum_v<T>) {
    return config::enum_name(value);
  } else if constexpr (config::is_optional<T>::value) {
    return value ? Json(*value) : Json(nullptr);
  } else {
    return value;
  }
}

template <typename T>
void read_field(const Json& json, T& value) {
  if constexpr (std::is_enum_v<T>) {
    value = config::parse_enum<T>(json.get<std::string>());
  } else if constexpr (config::is_optional<T>::value) {
    value = json.is_null() ? T() : T(json.get<typename T::value_type>());
  } else {
    value = json.get<T>();
  }
}

Json config_json(const TrainConfig& config) {
  Json json = Json::object();
  TrainConfig::fields(config, [&](const char* key, const auto& value, const char*, const auto&...) {
    json[key] = field_json(value);
  });
  return json;
}

// The keys of settings renamed since checkpoints were first written: a saved run still reads.
Json with_current_keys(Json json) {
  static const std::pair<const char*, const char*> renamed[] = {
      {"sample_steps", "num_sampling_steps"},  // the sample grids' sampler became sit-sample's group
      {"sample_method", "sampling_method"},
  };
  for (const auto& [old_key, key] : renamed) {
    if (json.contains(old_key) && !json.contains(key)) json[key] = json[old_key];
    json.erase(old_key);
  }
  return json;
}

TrainConfig config_from_json(const Json& saved) {
  if (!saved.is_object()) throw config::ConfigError("training configuration: not a JSON object");
  const Json json = with_current_keys(saved);
  TrainConfig config;
  size_t known = 0;
  TrainConfig::fields(config, [&](const char* key, auto& value, const char*, const auto&...) {
    auto it = json.find(key);
    if (it == json.end()) return;
    ++known;
    try {
      read_field(*it, value);
    } catch (const nlohmann::json::exception&) {
      throw config::ConfigError(std::string("training configuration: '") + key + "' has the wrong type: " +
                                it->dump());
    }
  });
  if (known != json.size()) {
    for (const auto& item : json.items()) {
      bool found = false;
      TrainConfig::fields(config, [&](const char* key, auto&, const char*, const auto&...) {
        found = found || item.key() == key;
      });
      if (!found) throw config::ConfigError("training configuration: unknown field '" + item.key() + "'");
    }
  }
  return config;
}

// A setting between JSON and a Python object: null, bool, integer, number, string, array of numbers
// <-> None, bool, int, float, str, list of floats.
io::Value setting_value(const Json& json) {
  if (json.is_null()) return io::Value();
  if (json.is_array()) {
    io::List items;
    for (const auto& item : json) items.push_back(io::Value::floating(item.get<double>()));
    return io::Value::list(items);
  }
  if (json.is_boolean()) return io::Value::boolean(json.get<bool>());
  if (json.is_number_integer()) return io::Value::integer(json.get<int64_t>());
  if (json.is_number()) return io::Value::floating(json.get<double>());
  TORCH_CHECK(json.is_string(), "setting_value: a setting is null, a bool, a number, a string or a list, but got ",
              json.dump());
  return io::Value::string(json.get<std::string>());
}

Json setting_json(const io::Value& value, const std::string& key, const std::string& source) {
  switch (value.kind()) {
    case Kind::None: return nullptr;
    case Kind::Bool: return value.to_bool();
    case Kind::Int: return value.to_int();
    case Kind::Float: return value.to_double();
    case Kind::String: return value.to_string();
    case Kind::List: {
      Json items = Json::array();
      for (const auto& item : value.items()) {
        if (!item.is(Kind::Float) && !item.is(Kind::Int)) {
          throw config::ConfigError(source + ": args entry '" + key + "' holds a " + io::kind_name(item.kind()) +
                                    ", not a number");
        }
        items.push_back(item.to_double());
      }
      return items;
    }
    default:
      throw config::ConfigError(source + ": args entry '" + key + "' is a " + io::kind_name(value.kind()) +
                                ", not a setting");
  }
}

}  // namespace

std::string TrainConfig::to_json() const { return config_json(*this).dump(); }

TrainConfig TrainConfig::from_json(const std::string& text) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw config::ConfigError(std::string("training configuration: not JSON: ") + e.what());
  }
  return config_from_json(json);
}

TrainConfig TrainConfig::resumed_from(const TrainConfig& saved) const {
  Json resumed = config_json(saved);
  const Json given = config_json(*this);
  for (const auto& item : given.items()) {
    if (per_run(item.key())) resumed[item.key()] = item.value();
  }
  return config_from_json(resumed);
}

io::Value config_args(const TrainConfig& config) {
  const Json json = config_json(config);
  auto args = io::Value::dict();
  for (const auto& item : json.items()) args.to_dict().set(item.key(), setting_value(item.value()));
  return args;
}

TrainConfig config_from_args(const io::Dict& args, const std::string& source) {
  Json json = Json::object();
  for (const auto& [key, value] : args.items) {
    if (!key.is(Kind::String)) throw config::ConfigError(source + ": args has a non-string key");
    json[key.to_string()] = setting_json(value, key.to_string(), source);
  }
  try {
    return config_from_json(json);
  } catch (const config::ConfigError& e) {
    throw config::ConfigError(source, e);
  }
}

}  // namespace sit::train
