#include <sit/train/train_config.h>

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace sit::train {

namespace {

// Visits every field once, with its JSON name: the one list both directions use.
template <typename Config, typename Visitor>
void for_each_field(Config& c, Visitor&& visit) {
  visit("model", c.model);
  visit("patch_size", c.patch_size);
  visit("depth", c.depth);
  visit("hidden_size", c.hidden_size);
  visit("num_heads", c.num_heads);
  visit("mlp_ratio", c.mlp_ratio);
  visit("class_dropout_prob", c.class_dropout_prob);
  visit("learn_sigma", c.learn_sigma);
  visit("data", c.data);
  visit("data_path", c.data_path);
  visit("image_size", c.image_size);
  visit("num_classes", c.num_classes);
  visit("num_workers", c.num_workers);
  visit("vae", c.vae);
  visit("sample_posterior", c.sample_posterior);
  visit("path_type", c.path_type);
  visit("prediction", c.prediction);
  visit("loss_weight", c.loss_weight);
  visit("train_eps", c.train_eps);
  visit("sample_eps", c.sample_eps);
  visit("global_batch_size", c.global_batch_size);
  visit("epochs", c.epochs);
  visit("max_steps", c.max_steps);
  visit("global_seed", c.global_seed);
  visit("lr", c.lr);
  visit("lr_schedule", c.lr_schedule);
  visit("warmup_steps", c.warmup_steps);
  visit("min_lr", c.min_lr);
  visit("weight_decay", c.weight_decay);
  visit("ema_decay", c.ema_decay);
  visit("grad_clip", c.grad_clip);
  visit("results_dir", c.results_dir);
  visit("log_every", c.log_every);
  visit("ckpt_every", c.ckpt_every);
  visit("sample_every", c.sample_every);
  visit("cfg_scale", c.cfg_scale);
  visit("sample_steps", c.sample_steps);
  visit("sample_method", c.sample_method);
  visit("device", c.device);
  visit("precision", c.precision);
}

template <typename T>
void write_field(nlohmann::json& json, const char* name, const T& value) {
  json[name] = value;
}
void write_field(nlohmann::json& json, const char* name, const std::optional<double>& value) {
  json[name] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

template <typename T>
void read_field(const nlohmann::json& json, T& value) {
  value = json.get<T>();
}
void read_field(const nlohmann::json& json, std::optional<double>& value) {
  value = json.is_null() ? std::nullopt : std::optional<double>(json.get<double>());
}

}  // namespace

std::string TrainConfig::to_json() const {
  nlohmann::json json = nlohmann::json::object();
  for_each_field(*this, [&](const char* name, const auto& value) { write_field(json, name, value); });
  return json.dump();
}

TrainConfig TrainConfig::from_json(const std::string& text) {
  auto json = nlohmann::json::parse(text);
  if (!json.is_object()) throw std::runtime_error("training configuration: not a JSON object");
  TrainConfig config;
  size_t known = 0;
  for_each_field(config, [&](const char* name, auto& value) {
    auto it = json.find(name);
    if (it == json.end()) return;
    ++known;
    try {
      read_field(*it, value);
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error(std::string("training configuration: field '") + name +
                               "' has the wrong type: " + it->dump());
    }
  });
  if (known != json.size()) {
    for (const auto& item : json.items()) {
      bool found = false;
      for_each_field(config, [&](const char* name, auto&) { found = found || item.key() == name; });
      if (!found) throw std::runtime_error("training configuration: unknown field '" + item.key() + "'");
    }
  }
  return config;
}

TrainConfig TrainConfig::resumed_from(const TrainConfig& saved) const {
  TrainConfig run = saved;
  run.epochs = epochs;
  run.max_steps = max_steps;
  run.results_dir = results_dir;
  run.log_every = log_every;
  run.ckpt_every = ckpt_every;
  run.sample_every = sample_every;
  run.device = device;
  run.precision = precision;
  run.num_workers = num_workers;
  return run;
}

}  // namespace sit::train
