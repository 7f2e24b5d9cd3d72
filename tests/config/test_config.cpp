// The settings groups: every enum's name table round-trips and refuses misspellings naming the
// choices; every group's validation names the setting it refuses; the field lists give each key
// once; the groups turn into the options they stand for.
#include "support/catch_torch.h"
#include <sit/config/fields.h>
#include <sit/eval/inception_config.h>
#include <sit/nn/model_config.h>
#include <sit/nn/runtime_config.h>
#include <sit/train/train_config.h>
#include <sit/transport/divergence.h>
#include <sit/transport/guidance.h>
#include <sit/transport/sampler.h>
#include <sit/transport/transport.h>

#include <nlohmann/json.hpp>

#include <map>
#include <set>

using sit::config::ConfigError;
namespace tr = sit::transport;

namespace {

template <typename E>
void check_table(size_t expected_size) {
  auto names = sit::config::enum_names<E>();
  CHECK(names.size() == expected_size);
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  for (const auto& name : names) {
    INFO(name);
    CHECK(sit::config::enum_name(sit::config::parse_enum<E>(name)) == name);
  }
  auto misspelt = names.front() + "x";
  CHECK_THROWS_AS(sit::config::parse_enum<E>(misspelt), ConfigError);
  CHECK_THROWS_WITH(sit::config::parse_enum<E>(misspelt),
                    Catch::Contains("'" + misspelt + "'") && Catch::Contains(sit::config::choice_list(names)));
}

template <typename Group>
void check_refused(const Group& group, const std::string& message) {
  INFO(message);
  CHECK_THROWS_AS(group.validate(), ConfigError);
  CHECK_THROWS_AS(group.validate(), sit::Error);  // what an application catches for all of sit's errors
  CHECK_THROWS_WITH(group.validate(), Catch::Contains(message));
}

}  // namespace

TEST_CASE("every enum has one name table: parse, print, choices", "[config]") {
  check_table<tr::PathType>(3);
  check_table<tr::ModelType>(3);
  check_table<tr::WeightType>(3);
  check_table<tr::OdeMethod>(16);
  check_table<tr::TimeGrid>(2);
  check_table<tr::SdeMethod>(2);
  check_table<tr::DiffusionForm>(6);
  check_table<tr::LastStep>(4);
  check_table<tr::Divergence>(2);
  check_table<tr::SamplerMode>(2);
  check_table<sit::eval::InputMode>(2);
  check_table<sit::nn::Precision>(3);
  check_table<sit::train::LrSchedule>(2);
  check_table<sit::train::DataSource>(3);
  // The official spellings, and no silent default for the loss weight.
  CHECK(sit::config::parse_enum<tr::WeightType>("None") == tr::WeightType::None);
  CHECK_THROWS_WITH(sit::config::parse_enum<tr::WeightType>("velocty"),
                    Catch::Equals("loss weight 'velocty': expected None, velocity or likelihood"));
  CHECK(sit::config::parse_enum<tr::OdeMethod>("adaptive_heun") == tr::OdeMethod::AdaptiveHeun);
  CHECK(sit::config::flag("cfg_interval") == "--cfg-interval");
}

TEST_CASE("a settings error names each setting by its key, and by its flag for the programs", "[config]") {
  using sit::config::setting;
  const sit::config::ConfigError error(setting("guide_ckpt") + " g.pt needs " + setting("cfg_scale") + " > 1");
  CHECK(std::string(error.what()) == "guide_ckpt g.pt needs cfg_scale > 1");
  CHECK(error.flag_message() == "--guide-ckpt g.pt needs --cfg-scale > 1");
  try {
    sit::config::check_range("num_sampling_steps", 0, sit::config::positive);
    FAIL("check_range accepted 0 as positive");
  } catch (const sit::config::ConfigError& e) {
    CHECK(std::string(e.what()) == "num_sampling_steps 0: must be positive");
    CHECK(e.flag_message() == "--num-sampling-steps 0: must be positive");
  }
  // Wrapped in a context (a checkpoint's saved configuration), it still names them both ways.
  const sit::config::ConfigError wrapped("ckpt.pt", error);
  CHECK(std::string(wrapped.what()) == "ckpt.pt: guide_ckpt g.pt needs cfg_scale > 1");
  CHECK(wrapped.flag_message() == "ckpt.pt: --guide-ckpt g.pt needs --cfg-scale > 1");
  // A message without settings reads the same both ways.
  const sit::config::ConfigError plain("training configuration: not a JSON object");
  CHECK(plain.flag_message() == plain.what());
}

TEST_CASE("each group refuses bad settings naming them", "[config]") {
  sit::nn::ModelConfig model;
  model.model = "SiT-M/2";
  check_refused(model, "model 'SiT-M/2': not a preset");
  model.model = "";
  model.architecture.hidden_size(100);
  model.architecture.num_heads(3);
  check_refused(model, "hidden_size 100: must be a positive multiple of num_heads 3");
  model.architecture.hidden_size(96);
  model.architecture.class_dropout_prob(1);
  check_refused(model, "class_dropout_prob 1");

  tr::TransportOptions transport;
  transport.sample_eps(-0.1);
  check_refused(transport, "sample_eps -0.1");

  tr::SamplerOptions sampler;
  sampler.num_steps(1);
  check_refused(sampler, "num_sampling_steps 1");
  sampler.num_steps(10);
  sampler.rtol(0);
  check_refused(sampler, "rtol 0");
  sampler.mode(tr::SamplerMode::SDE);
  sampler.last_step_size(1.5);
  check_refused(sampler, "last_step_size 1.5");

  tr::GuidanceOptions guidance;
  for (auto interval : {std::vector<double>{0.5, 0.2}, {0.0, 1.5}, {-0.1, 0.5}, {0.3}}) {
    guidance.cfg_interval(interval);
    check_refused(guidance, "cfg_interval");
  }
  guidance.cfg_interval({0.2, 0.6});
  CHECK_NOTHROW(guidance.validate());

  sit::train::OptimConfig optim;
  optim.lr = 0;
  check_refused(optim, "lr 0");
  optim.lr = 1e-4;
  optim.ema_decay = 1.5;
  check_refused(optim, "ema_decay 1.5");

  sit::train::DataConfig data;
  data.data = sit::train::DataSource::Folder;
  check_refused(data, "data folder: needs data_path and image_size");

  sit::train::RunConfig run;
  run.log_every = 0;
  check_refused(run, "log_every 0");

  sit::nn::RuntimeConfig runtime;
  runtime.device = "gpu";
  check_refused(runtime, "device gpu");

  tr::MeanFlowOptions mean_flow;
  mean_flow.data_proportion(1.5);
  check_refused(mean_flow, "meanflow_data_proportion 1.5");
  sit::train::TrainConfig meanflow_run;
  meanflow_run.model.architecture.meanflow(true);
  CHECK_NOTHROW(meanflow_run.validate());
  meanflow_run.transport.path_type(tr::PathType::VP);
  check_refused(meanflow_run, "meanflow: trains velocities on the Linear path: drop path_type and prediction");
  meanflow_run.transport.path_type(tr::PathType::Linear);
  meanflow_run.model.architecture.class_dropout_prob(0);
  meanflow_run.mean_flow.kappa(0.5);
  check_refused(meanflow_run, "meanflow_omega 1: guides toward the null label");
  // The flow-matching loss's options, and REPA, are not MeanFlow's.
  meanflow_run.model.architecture.class_dropout_prob(0.1);
  meanflow_run.transport.time_sampling(tr::TimeSampling::LogitNormal);
  check_refused(meanflow_run, "time_sampling logit-normal: is flow matching's");
  meanflow_run.transport.time_sampling(tr::TimeSampling::Uniform).cosine_loss_weight(1);
  check_refused(meanflow_run, "cosine_loss_weight 1: is flow matching's");
  meanflow_run.transport.cosine_loss_weight(0);
  meanflow_run.repa.encoder("classifier:c.safetensors");
  check_refused(meanflow_run, "REPA with meanflow is not yet supported");
  run.log_every = 1;
  run.sampler.ode_method(tr::OdeMethod::MeanFlow);
  run.sampler.num_steps(1);
  CHECK_NOTHROW(run.validate());
  run.sampler.num_steps(0);
  check_refused(run, "num_sampling_steps 0");
}

TEST_CASE("the groups become the options they stand for, with sample.py's defaults", "[config]") {
  sit::nn::ModelConfig model;
  model.model = "SiT-B/4";
  auto preset = model.options({4, 32, 32}, 1000);
  CHECK(preset.hidden_size() == 768);
  CHECK(preset.num_heads() == 12);
  CHECK(preset.patch_size() == 4);
  CHECK(preset.input_size() == 32);
  model.model = "";
  model.architecture.patch_size(4);
  model.architecture.depth(6);
  model.architecture.hidden_size(128);
  model.architecture.num_heads(4);
  auto free = model.options({1, 28, 28}, 10);
  CHECK(free.depth() == 6);
  CHECK(free.in_channels() == 1);
  CHECK(free.num_classes() == 10);
  CHECK_THROWS_AS(model.options({1, 30, 30}, 10), ConfigError);

  tr::SamplerOptions sampler;  // sample.py's defaults
  CHECK(sampler.ode_method() == tr::OdeMethod::Dopri5);
  CHECK(sampler.num_steps() == 250);
  CHECK(sampler.diffusion_form() == tr::DiffusionForm::Sigma);
  CHECK(sampler.last_step() == tr::LastStep::Mean);
}

TEST_CASE("a training configuration lists each key once and round-trips through JSON", "[config]") {
  sit::train::TrainConfig config;
  std::set<std::string> keys;
  size_t fields = 0;
  sit::train::TrainConfig::fields(config, [&](const char* key, auto&, const char* help, const auto&...) {
    ++fields;
    keys.insert(key);
    CHECK(std::string(help).size() > 0);
  });
  CHECK(keys.size() == fields);
  auto json = nlohmann::json::parse(config.to_json());
  CHECK(json.size() == fields);
  CHECK(json["loss_weight"] == "None");
  CHECK(json["train_eps"].is_null());
  CHECK(json["precision"] == "fp32");
  CHECK_THROWS_WITH(sit::train::TrainConfig::from_json(R"({"sampling_method": "rk45"})"),
                    Catch::Contains("ODE method 'rk45'"));
  // A checkpoint saved before the sample grids took sit-sample's sampler group still reads.
  auto saved = sit::train::TrainConfig::from_json(R"({"sample_steps": 7, "sample_method": "euler", "cfg_scale": 2})");
  CHECK(saved.run.sampler.num_steps() == 7);
  CHECK(saved.run.sampler.ode_method() == sit::transport::OdeMethod::Euler);
  CHECK(saved.run.guidance.cfg_scale() == 2);
  CHECK_THROWS_WITH(sit::train::TrainConfig::from_json(R"({"num_sampling_steps": 1})").validate(),
                    Catch::Contains("num_sampling_steps 1"));
}

TEST_CASE("sit-train's Inception settings are sit-eval's group, saved under their keys", "[config]") {
  // EvalConfig holds an eval::InceptionConfig: its flags are sit-eval's (--inception, --input-mode,
  // with sit-eval's help), and the saved configuration keeps the flat keys older checkpoints hold.
  std::map<std::string, std::string> eval_help, train_help;
  sit::eval::InceptionConfig inception;
  sit::eval::InceptionConfig::fields(inception, [&](const char* key, auto&, const char* help, const auto&...) {
    eval_help[key] = help;
  });
  sit::train::TrainConfig config;
  sit::train::TrainConfig::fields(config, [&](const char* key, auto&, const char* help, const auto&...) {
    if (eval_help.count(key)) train_help[key] = help;
  });
  CHECK(eval_help.size() == 2);
  CHECK(train_help == eval_help);

  config = sit::train::TrainConfig::from_json(R"({"inception": "pt_inception.pth", "input_mode": "pytorch-fid"})");
  CHECK(config.eval.inception.inception == "pt_inception.pth");
  CHECK(config.eval.inception.input_mode == sit::eval::InputMode::PytorchFid);
  auto json = nlohmann::json::parse(config.to_json());
  CHECK(json["inception"] == "pt_inception.pth");
  CHECK(json["input_mode"] == "pytorch-fid");
}
