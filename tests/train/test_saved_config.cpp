// sit-train's configuration as its files save it (train/saved_config.h): a checkpoint's "args"
// dict holds TrainConfig::to_json's object, key for key and in its order, as the None, bool, int,
// float, str and list of floats of a Python dict, and reads back (also through torch.save's pickle) to the same
// configuration; an entry that is no setting is an error naming it.

#include <sit/config/error.h>
#include <sit/io/torch_load.h>

#include <nlohmann/json.hpp>

#include "support/catch_torch.h"
#include "support/files.h"
#include "train/saved_config.h"
#include "train/tiny_config.h"

namespace saved_config_test {

// Whether `value` is the JSON `json`: the same kind and the same value.
bool same_setting(const sit::io::Value& value, const nlohmann::json& json) {
  using Kind = sit::io::Value::Kind;
  if (json.is_null()) return value.is_none();
  if (json.is_boolean()) return value.is(Kind::Bool) && value.to_bool() == json.get<bool>();
  if (json.is_number_integer()) return value.is(Kind::Int) && value.to_int() == json.get<int64_t>();
  if (json.is_number()) return value.is(Kind::Float) && value.to_double() == json.get<double>();
  if (json.is_array()) {
    if (!value.is(Kind::List) || value.items().size() != json.size()) return false;
    for (size_t i = 0; i < json.size(); ++i) {
      if (!value.items()[i].is(Kind::Float) || value.items()[i].to_double() != json[i].get<double>()) return false;
    }
    return true;
  }
  return value.is(Kind::String) && value.to_string() == json.get<std::string>();
}

}  // namespace saved_config_test

TEST_CASE("a checkpoint's args are the configuration's JSON as a Python dict, and read back", "[train]") {
  auto config = sit::test::tiny_config("results/run");
  config.transport.train_eps(1e-3);
  config.optim.global_seed = 7;
  config.eval.inception.input_mode = sit::eval::InputMode::PytorchFid;
  config.optim.phema_sigma_rel = {0.05, 0.1};
  const auto args = sit::train::config_args(config);
  const auto json = nlohmann::json::parse(config.to_json());

  const auto& dict = args.to_dict();
  std::vector<std::string> json_keys;
  for (const auto& item : json.items()) json_keys.push_back(item.key());
  REQUIRE(dict.string_keys() == json_keys);
  for (const auto& [key, value] : dict.items) {
    CAPTURE(key.to_string(), json[key.to_string()].dump());
    CHECK(saved_config_test::same_setting(value, json[key.to_string()]));
  }
  CHECK(dict.find("hidden_size")->to_int() == 32);
  CHECK(dict.find("lr")->is(sit::io::Value::Kind::Float));
  CHECK(dict.find("train_eps")->to_double() == 1e-3);
  CHECK(dict.find("sample_eps")->is_none());
  CHECK(dict.find("path_type")->to_string() == "Linear");
  CHECK(dict.find("input_mode")->to_string() == "pytorch-fid");
  CHECK(dict.find("results_dir")->to_string() == "results/run");
  CHECK(dict.find("cfg_interval")->items().size() == 2);  // the sample grids' guidance interval: [0.0, 1.0]
  CHECK(dict.find("phema_sigma_rel")->items().size() == 2);

  CHECK(sit::train::config_from_args(dict, "ckpt.pt").to_json() == config.to_json());
  sit::test::TempDir dir;
  sit::io::torch_save(args, dir.file("args.pt"));
  const auto loaded = sit::io::torch_load(dir.file("args.pt"));
  CHECK(sit::train::config_from_args(loaded.to_dict(), "args.pt").to_json() == config.to_json());
}

TEST_CASE("args that are no configuration are errors naming the file and the entry", "[train]") {
  const auto args = sit::train::config_args(sit::train::TrainConfig());
  auto with = [&](const std::string& key, sit::io::Value value) {
    auto copy = sit::io::Value::dict();
    for (const auto& [k, v] : args.to_dict().items) copy.to_dict().set(k, v);
    copy.to_dict().set(key, std::move(value));
    return copy;
  };
  CHECK_THROWS_WITH(sit::train::config_from_args(with("lr", sit::io::Value::dict()).to_dict(), "ckpt.pt"),
                    "ckpt.pt: args entry 'lr' is a dict, not a setting");
  CHECK_THROWS_WITH(sit::train::config_from_args(with("lr", sit::io::Value::list()).to_dict(), "ckpt.pt"),
                    Catch::StartsWith("ckpt.pt: training configuration: 'lr' has the wrong type"));
  CHECK_THROWS_WITH(
      sit::train::config_from_args(
          with("phema_sigma_rel", sit::io::Value::list({sit::io::Value::string("0.05")})).to_dict(), "ckpt.pt"),
      "ckpt.pt: args entry 'phema_sigma_rel' holds a str, not a number");
  CHECK_THROWS_WITH(sit::train::config_from_args(with("lr", sit::io::Value::string("fast")).to_dict(), "ckpt.pt"),
                    Catch::StartsWith("ckpt.pt: training configuration: 'lr' has the wrong type"));
  CHECK_THROWS_WITH(sit::train::config_from_args(with("colour", sit::io::Value::integer(3)).to_dict(), "ckpt.pt"),
                    "ckpt.pt: training configuration: unknown field 'colour'");
  CHECK_THROWS_AS(sit::train::config_from_args(with("lr", sit::io::Value::dict()).to_dict(), "ckpt.pt"),
                  sit::config::ConfigError);
}
