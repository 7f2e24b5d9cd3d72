// Path coefficients, drift, diffusion, conversions and plan against the official path.py evaluated
// in float64 (tests/data/transport/paths.json, from the shared fixtures), and the transport's
// eps defaults and intervals against intervals.json. Tolerance: relative 1e-12, the formulas
// being the official ones in float64.
#include "support/catch_torch.h"
#include <sit/transport/transport.h>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace sit::transport;

namespace {

nlohmann::json read_json(const std::string& name) {
  std::ifstream in(std::string(SIT_TEST_DATA_DIR) + "/transport/" + name);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

torch::Tensor vector_of(const nlohmann::json& j) {
  return torch::tensor(j.get<std::vector<double>>(), torch::kFloat64);
}

torch::Tensor matrix_of(const nlohmann::json& j) {
  auto rows = j.get<std::vector<std::vector<double>>>();
  std::vector<torch::Tensor> stacked;
  for (const auto& row : rows) stacked.push_back(torch::tensor(row, torch::kFloat64));
  return torch::stack(stacked);
}

void check_close(const torch::Tensor& actual, const torch::Tensor& expected, double rtol = 1e-12) {
  auto a = actual.to(torch::kFloat64).reshape(-1), e = expected.reshape(-1);
  REQUIRE(a.numel() == e.numel());
  auto bound = 1e-300 + rtol * e.abs().clamp_min(1.0);
  auto error = (a - e).abs();
  INFO("max error " << error.max().item<double>() << " at value "
                    << e[error.argmax()].item<double>());
  CHECK((error <= bound).all().item<bool>());
}

}  // namespace

TEST_CASE("paths match path.py in float64", "[transport][path]") {
  auto fixture = read_json("paths.json");
  auto t = vector_of(fixture["t"]);
  auto x = matrix_of(fixture["x"]), v = matrix_of(fixture["v"]);
  auto x0 = matrix_of(fixture["x0"]), x1 = matrix_of(fixture["x1"]);
  const std::vector<std::pair<std::string, DiffusionForm>> forms = {
      {"constant", DiffusionForm::Constant},
      {"SBDM", DiffusionForm::SBDM},
      {"sigma", DiffusionForm::Sigma},
      {"linear", DiffusionForm::Linear},
      {"decreasing", DiffusionForm::Decreasing},
      {"increasing-decreasing", DiffusionForm::IncreasingDecreasing}};

  for (const auto& name : {"Linear", "GVP", "VP"}) {
    INFO("path " << name);
    Transport transport(TransportOptions().path_type(sit::config::parse_enum<PathType>(name)));
    const Path& path = transport.path_sampler();
    const auto& expected = fixture["paths"][name];

    auto alpha = path.compute_alpha_t(t), sigma = path.compute_sigma_t(t);
    check_close(alpha.value, vector_of(expected["alpha_t"]));
    check_close(alpha.derivative, vector_of(expected["d_alpha_t"]));
    check_close(sigma.value, vector_of(expected["sigma_t"]));
    check_close(sigma.derivative, vector_of(expected["d_sigma_t"]));
    check_close(path.compute_d_alpha_alpha_ratio_t(t),
                vector_of(expected["d_alpha_alpha_ratio_t"]));

    auto drift = path.compute_drift(torch::ones({t.size(0), 1}, torch::kFloat64), t);
    check_close(drift.drift_mean, vector_of(expected["compute_drift_0_at_x1"]));
    check_close(drift.drift_var, vector_of(expected["compute_drift_1"]));
    for (const auto& [form_name, form] : forms) {
      INFO("diffusion " << form_name);
      // path.py spells this form "inccreasing-decreasing" (the fixture's key).
      auto key = form == DiffusionForm::IncreasingDecreasing ? std::string("inccreasing-decreasing") : form_name;
      check_close(path.compute_diffusion(x, t, form), vector_of(expected["diffusion_" + key]));
      CHECK(sit::config::parse_enum<DiffusionForm>(form_name) == form);
    }

    check_close(path.get_score_from_velocity(v, x, t), matrix_of(expected["score_from_velocity"]));
    check_close(path.get_noise_from_velocity(v, x, t), matrix_of(expected["noise_from_velocity"]));
    check_close(path.get_velocity_from_score(v, x, t), matrix_of(expected["velocity_from_score"]));
    auto plan = path.plan(t, x0, x1);
    check_close(plan.xt, matrix_of(expected["plan_xt"]));
    check_close(plan.ut, matrix_of(expected["plan_ut"]));
  }
}

TEST_CASE("noise and score convert through sigma_t and round-trip with velocity",
          "[transport][path]") {
  auto t = torch::linspace(0.05, 0.95, 7, torch::kFloat64);
  auto x = torch::randn({7, 3}, torch::kFloat64), v = torch::randn({7, 3}, torch::kFloat64);
  for (const auto& name : {"Linear", "GVP", "VP"}) {
    INFO("path " << name);
    Transport transport(TransportOptions().path_type(sit::config::parse_enum<PathType>(name)));
    const Path& path = transport.path_sampler();
    auto score = path.get_score_from_velocity(v, x, t);
    auto noise = path.get_noise_from_velocity(v, x, t);
    check_close(path.get_score_from_noise(noise, x, t), score, 1e-9);
    check_close(path.get_velocity_from_score(score, x, t), v, 1e-9);
  }
}

TEST_CASE("the diffusion forms are the closed forms, constant included", "[transport][path]") {
  ICPlan path;
  auto t = torch::tensor({0.25, 0.5}, torch::kFloat64);
  auto x = torch::zeros({2, 3, 4, 4}, torch::kFloat64);
  auto constant = path.compute_diffusion(x, t, DiffusionForm::Constant, 0.7);
  CHECK(constant.sizes() == torch::IntArrayRef({2, 1, 1, 1}));
  CHECK(torch::allclose(constant.reshape(-1), torch::full({2}, 0.7, torch::kFloat64)));
  auto sbdm = path.compute_diffusion(x, t, DiffusionForm::SBDM, 2.0).reshape(-1);
  // Linear: drift_var = (1 - t)^2 / t + (1 - t).
  CHECK(sbdm[0].item<double>() == Approx(2.0 * (0.75 * 0.75 / 0.25 + 0.75)).epsilon(1e-14));
  auto inc_dec = path.compute_diffusion(x, t, DiffusionForm::IncreasingDecreasing, 3.0).reshape(-1);
  CHECK(inc_dec[1].item<double>() == Approx(3.0).epsilon(1e-14));
}

TEST_CASE("eps defaults and intervals match create_transport and check_interval",
          "[transport][interval]") {
  auto fixture = read_json("intervals.json");
  const std::vector<std::pair<std::string, DiffusionForm>> sde_forms = {
      {"sigma", DiffusionForm::Sigma},
      {"SBDM", DiffusionForm::SBDM},
      {"constant", DiffusionForm::Constant}};
  auto check_interval_equal = [](Interval actual, const nlohmann::json& expected) {
    CHECK(actual.t0 == Approx(expected[0].get<double>()).margin(1e-15));
    CHECK(actual.t1 == Approx(expected[1].get<double>()).margin(1e-15));
  };
  REQUIRE(fixture.size() == 9);
  for (const auto& entry : fixture) {
    const auto path_name = entry["path_type"].get<std::string>();
    const auto prediction = entry["prediction"].get<std::string>();
    INFO(path_name << " " << prediction);
    Transport transport(TransportOptions()
                            .path_type(sit::config::parse_enum<PathType>(path_name))
                            .prediction(sit::config::parse_enum<ModelType>(prediction)));
    CHECK(transport.train_eps() == entry["train_eps"].get<double>());
    CHECK(transport.sample_eps() == entry["sample_eps"].get<double>());
    check_interval_equal(transport.check_interval(), entry["train"]);
    check_interval_equal(transport.check_interval(IntervalOptions().eval(true)), entry["ode"]);
    check_interval_equal(transport.check_interval(IntervalOptions().eval(true).reverse(true)),
                         entry["ode_reverse"]);
    for (const auto& [form_name, form] : sde_forms) {
      for (double last_step_size : {0.04, 0.0}) {
        auto key = form_name + "/last_step_size=" + (last_step_size == 0.0 ? "0.0" : "0.04");
        INFO(key);
        check_interval_equal(
            transport.check_interval(
                IntervalOptions().diffusion_form(form).sde(true).eval(true).last_step_size(
                    last_step_size)),
            entry["sde"][key]);
      }
    }
  }
}

TEST_CASE("a given eps is honoured on its own, except for velocity on Linear/GVP",
          "[transport][interval]") {
  Transport vp(TransportOptions().path_type(PathType::VP).sample_eps(0.01));
  CHECK(vp.train_eps() == 1e-5);  // create_transport would also have replaced sample_eps by 1e-3
  CHECK(vp.sample_eps() == 0.01);
  Transport noise(TransportOptions().prediction(ModelType::Noise).train_eps(1e-5));
  CHECK(noise.train_eps() == 1e-5);
  CHECK(noise.sample_eps() == 1e-3);
  Transport velocity(TransportOptions().train_eps(0.1).sample_eps(0.1));
  CHECK(velocity.train_eps() == 0.0);
  CHECK(velocity.sample_eps() == 0.0);
  CHECK(sit::config::parse_enum<WeightType>("None") == WeightType::None);
  CHECK(sit::config::parse_enum<WeightType>("likelihood") == WeightType::Likelihood);
}
