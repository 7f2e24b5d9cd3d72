#include <sit/train/train_config.h>

#include <nlohmann/json.hpp>

#include <set>


namespace sit::train {

namespace {

template <typename T>
nlohmann::json to_json_value(const T& value) {
  if constexpr (std::is_enum_v<T>) {
    return config::enum_name(value);
  } else if constexpr (config::is_optional<T>::value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  } else {
    return value;
  }
}

template <typename T>
void from_json_value(const nlohmann::json& json, T& value) {
  if constexpr (std::is_enum_v<T>) {
    value = config::parse_enum<T>(json.get<std::string>());
  } else if constexpr (config::is_optional<T>::value) {
    value = json.is_null() ? T() : T(json.get<typename T::value_type>());
  } else {
    value = json.get<T>();
  }
}

}  // namespace

void TrainConfig::validate() const {
  model.validate();
  data.validate();
  transport.validate();
  optim.validate();
  run.validate();
  eval.validate();
  runtime.validate();
}

std::string TrainConfig::to_json() const {
  nlohmann::json json = nlohmann::json::object();
  fields(*this, [&](const char* key, const auto& value, const char*, const auto&...) { json[key] = to_json_value(value); });
  return json.dump();
}

TrainConfig TrainConfig::from_json(const std::string& text) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw config::ConfigError(std::string("training configuration: not JSON: ") + e.what());
  }
  if (!json.is_object()) throw config::ConfigError("training configuration: not a JSON object");
  TrainConfig config;
  size_t known = 0;
  fields(config, [&](const char* key, auto& value, const char*, const auto&...) {
    auto it = json.find(key);
    if (it == json.end()) return;
    ++known;
    try {
      from_json_value(*it, value);
    } catch (const nlohmann::json::exception&) {
      throw config::ConfigError(std::string("training configuration: '") + key + "' has the wrong type: " +
                                it->dump());
    }
  });
  if (known != json.size()) {
    for (const auto& item : json.items()) {
      bool found = false;
      fields(config, [&](const char* key, auto&, const char*, const auto&...) { found = found || item.key() == key; });
      if (!found) throw config::ConfigError("training configuration: unknown field '" + item.key() + "'");
    }
  }
  return config;
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

TrainConfig TrainConfig::resumed_from(const TrainConfig& saved) const {
  auto resumed = nlohmann::json::parse(saved.to_json());
  const auto given = nlohmann::json::parse(to_json());
  for (const auto& item : given.items()) {
    if (per_run(item.key())) resumed[item.key()] = item.value();
  }
  return from_json(resumed.dump());
}

}  // namespace sit::train
