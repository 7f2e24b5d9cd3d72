#include <sit/train/train_config.h>

#include <nlohmann/json.hpp>


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

TrainConfig TrainConfig::resumed_from(const TrainConfig& saved) const {
  TrainConfig resumed = saved;
  resumed.optim.epochs = optim.epochs;
  resumed.optim.max_steps = optim.max_steps;
  resumed.data.num_workers = data.num_workers;
  resumed.run = run;
  resumed.eval = eval;
  resumed.runtime = runtime;
  return resumed;
}

}  // namespace sit::train
