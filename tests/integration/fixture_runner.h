#pragma once
// Runs the reference cases of tests/data/fixtures through the public API, as the official code
// ran them: a sampler case from its ckpt.pt, noise, labels (and SDE draws); a loss case's
// per-sample loss and gradients; a case model's forward outputs. Shared by test_parity (which
// checks the results) and parity_report (which prints them as docs/parity.md's table).
#include <sit/io/npy.h>
#include <sit/nn/sit_from_state_dict.h>
#include <sit/transport/guidance.h>
#include <sit/transport/sampler.h>
#include <sit/transport/transport.h>

#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/fixture_case.h"

namespace sit::test {

/// The Transport a case.json describes (its "transport" object, or a loss case's top level).
inline sit::transport::Transport case_transport(const nlohmann::json& t) {
  namespace tr = sit::transport;
  auto eps = [&](const char* key) {
    return t[key].is_null() ? std::nullopt : std::optional<double>(t[key].get<double>());
  };
  tr::TransportOptions config;
  config.path_type(sit::config::parse_enum<tr::PathType>(t["path_type"].get<std::string>()));
  config.prediction(sit::config::parse_enum<tr::ModelType>(t["prediction"].get<std::string>()));
  if (!t["loss_weight"].is_null()) {
    config.loss_weight(sit::config::parse_enum<tr::WeightType>(t["loss_weight"].get<std::string>()));
  }
  config.train_eps(eps("train_eps"));
  config.sample_eps(eps("sample_eps"));
  return tr::Transport(config);
}

/// A case's model, loaded from its ckpt.pt with the heads its case.json records.
inline sit::nn::SiT load_case_model(const std::string& dir, const nlohmann::json& json) {
  return sit::nn::load_sit(dir + "/ckpt.pt", sit::nn::ArchitectureHints().num_heads(
                                                 json["model"]["num_heads"].get<int64_t>()));
}

inline bool is_adaptive_case(const nlohmann::json& json) {
  const auto& s = json["sampler"];
  return s["mode"] == "ODE" && sit::transport::is_adaptive(sit::config::parse_enum<sit::transport::OdeMethod>(
                                   s["sampling_method"].get<std::string>()));
}

/// Relative L2 tolerance of a sampler case: 1e-3 adaptive solvers, 1e-4 fixed-step ODE and SDE.
inline double sampler_tolerance(const nlohmann::json& json) { return is_adaptive_case(json) ? 1e-3 : 1e-4; }

/// The official model evaluation count in ours: the official SDE drift calls the model twice with
/// the same input where ours calls it once.
inline int64_t official_evaluations_in_ours(const nlohmann::json& json, int64_t ours) {
  return json["sampler"]["mode"] == "ODE" ? ours : 2 * ours;
}

struct CaseRun {
  sit::transport::SampleResult result;
  int64_t n_images;
};

/// A sampler case run end to end; under guidance the state is the official doubled batch [z; z]
/// and the samples are the first n_images of result.sample.
inline CaseRun run_case(const std::string& name) {
  namespace tr = sit::transport;
  auto dir = fixture_dir(name);
  auto json = read_case_json(dir);
  auto model = load_case_model(dir, json);
  auto z = read_case_npy(dir, "noise");
  auto y = read_case_npy(dir, "labels");
  tr::LabelledForward forward = [&](const torch::Tensor& x, const torch::Tensor& t,
                                    const torch::Tensor& labels) { return model->forward(x, t, labels); };
  double cfg_scale = json["guidance"]["cfg_scale"].get<double>();
  bool guided = cfg_scale > 1.0;
  tr::ModelFn model_fn =
      guided ? tr::classifier_free_guidance_doubled(
                   forward, y, tr::GuidanceOptions(cfg_scale, json["guidance"]["null_class"].get<int64_t>()))
             : tr::ModelFn([&](const torch::Tensor& x, const torch::Tensor& t) { return forward(x, t, y); });
  auto state = guided ? torch::cat({z, z}) : z;
  tr::Sampler sampler(case_transport(json["transport"]));
  const auto& s = json["sampler"];
  CaseRun run{{}, z.size(0)};
  if (s["mode"] == "ODE") {
    run.result = sampler.sample_ode(state, model_fn,
                                    tr::SamplerOptions()
                                        .ode_method(sit::config::parse_enum<tr::OdeMethod>(s["sampling_method"].get<std::string>()))
                                        .num_steps(s["num_steps"].get<int64_t>())
                                        .atol(s["atol"].get<double>())
                                        .rtol(s["rtol"].get<double>())
                                        .reverse(s["reverse"].get<bool>())
                                        .trajectory(true));
  } else {
    run.result = sampler.sample_sde(
        state, model_fn,
        tr::SamplerOptions()
            .sde_method(sit::config::parse_enum<tr::SdeMethod>(s["sampling_method"].get<std::string>()))
            .diffusion_form(sit::config::parse_enum<tr::DiffusionForm>(s["diffusion_form"].get<std::string>()))
            .diffusion_norm(s["diffusion_norm"].get<double>())
            .last_step(sit::config::parse_enum<tr::LastStep>(s["last_step"].get<std::string>()))
            .last_step_size(s["last_step_size"].get<double>())
            .num_steps(s["num_steps"].get<int64_t>()),
        tr::replayed_noise(read_case_npy(dir, "sde_noise")));
  }
  return run;
}

/// Relative L2 of a case model's outputs against the official forward.npy, forward_full.npy
/// (learn_sigma models) and forward_cfg.npy (guided cases: the doubled guidance, which is the
/// official forward_with_cfg), at the case's forward_t. Keyed by the file's name.
inline std::vector<std::pair<std::string, double>> forward_errors(const std::string& name) {
  namespace tr = sit::transport;
  torch::NoGradGuard no_grad;
  auto dir = fixture_dir(name);
  auto json = read_case_json(dir);
  auto model = load_case_model(dir, json);
  auto x = read_case_npy(dir, "noise");
  auto y = read_case_npy(dir, "labels");
  auto t = torch::tensor(json["forward_t"].get<std::vector<float>>());
  std::vector<std::pair<std::string, double>> errors;
  errors.emplace_back("forward", relative_l2(model->forward(x, t, y), read_case_npy(dir, "forward")));
  if (json["model"]["learn_sigma"].get<bool>()) {
    errors.emplace_back("forward_full", relative_l2(model->forward_full(x, t, y), read_case_npy(dir, "forward_full")));
  }
  if (std::filesystem::exists(dir + "/forward_cfg.npy")) {
    tr::LabelledForward forward = [&](const torch::Tensor& xx, const torch::Tensor& tt,
                                      const torch::Tensor& labels) { return model->forward(xx, tt, labels); };
    auto guided = tr::classifier_free_guidance_doubled(
        forward, y,
        tr::GuidanceOptions(json["guidance"]["cfg_scale"].get<double>(),
                            json["guidance"]["null_class"].get<int64_t>()));
    errors.emplace_back("forward_cfg", relative_l2(guided(torch::cat({x, x}), torch::cat({t, t})),
                                                   read_case_npy(dir, "forward_cfg")));
  }
  return errors;
}

/// The training loss cases (folders of tests/data/fixtures/loss).
inline std::vector<std::string> loss_case_names() {
  return {"loss_linear_velocity", "loss_linear_noise", "loss_vp_velocity"};
}

inline std::string loss_case_dir(const std::string& name) {
  return std::string(SIT_TEST_DATA_DIR) + "/fixtures/loss/" + name;
}

struct LossCaseRun {
  double pred_error = 0;  // the model prediction against pred.npy
  double loss_error = 0;  // the per-sample loss against loss_per_sample.npy
  /// Each official gradient (grads.npz) against ours; infinity where the model has no such
  /// parameter.
  std::map<std::string, double> gradient_errors;
  size_t num_parameters = 0;  // the model's named parameters (pos_embed included, which has none)

  double max_gradient_error() const {
    double worst = 0;
    for (const auto& [key, error] : gradient_errors) worst = std::max(worst, error);
    return worst;
  }
};

/// A loss case: training_losses of the official x1, x0, t and labels with the model in eval mode
/// (the fixtures' mode: no label dropout), then the gradients of the mean loss.
inline LossCaseRun run_loss_case(const std::string& name) {
  auto dir = loss_case_dir(name);
  auto json = read_case_json(dir);
  auto model = load_case_model(dir, json);
  model->eval();
  auto y = read_case_npy(dir, "labels");
  auto transport = case_transport(json);
  auto losses = transport.training_losses(
      [&](const torch::Tensor& x, const torch::Tensor& t) { return model->forward(x, t, y); },
      read_case_npy(dir, "x1"), read_case_npy(dir, "x0"), read_case_npy(dir, "t"));
  LossCaseRun run;
  run.pred_error = relative_l2(losses.pred, read_case_npy(dir, "pred"));
  run.loss_error = relative_l2(losses.loss, read_case_npy(dir, "loss_per_sample"));
  losses.loss.mean().backward();
  auto params = model->named_parameters();
  run.num_parameters = params.size();
  for (const auto& item : sit::io::read_npz(dir + "/grads.npz")) {
    run.gradient_errors[item.key()] =
        params.contains(item.key()) && params[item.key()].grad().defined()
            ? relative_l2(params[item.key()].grad(), item.value())
            : std::numeric_limits<double>::infinity();
  }
  return run;
}

}  // namespace sit::test
