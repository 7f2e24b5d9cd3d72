// Power-function EMA and post-hoc reconstruction against EDM2's training/phema.py
// (tests/data/phema/make_phema_reference.py), and the errors of a reconstruction.
#include "support/catch_torch.h"
#include <sit/io/safetensors.h>
#include <sit/train/checkpoint_settings.h>
#include <sit/train/phema.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "support/exceptions.h"
#include "support/files.h"

namespace {

using Json = nlohmann::json;

const Json& reference() {
  static const Json json = [] {
    std::ifstream in(std::string(SIT_TEST_DATA_DIR) + "/phema/phema_reference.json");
    return Json::parse(in);
  }();
  return json;
}

// |a - b| <= 1e-10 |b|, or 1e-10 for b within 1 of 0.
bool close(double a, double b) { return std::abs(a - b) <= 1e-10 * std::max(1.0, std::abs(b)); }

torch::Tensor tensor_of(const Json& values) {
  if (!values.is_array() || values.empty() || !values[0].is_array()) {
    return torch::tensor(values.get<std::vector<double>>(), torch::kFloat64);
  }
  std::vector<torch::Tensor> rows;
  for (const auto& row : values) rows.push_back(tensor_of(row));
  return torch::stack(rows);
}

// Writes snapshot `index` of the reference as sit-train would: float32 tensors, run settings, t, sigma_rel.
std::string write_snapshot(const std::string& dir, int64_t t, double sigma_rel, const Json& tensors,
                           const sit::train::TrainConfig& config = {}) {
  sit::io::StateDict state_dict;
  for (const auto& [name, values] : tensors.items()) state_dict.insert(name, tensor_of(values).to(torch::kFloat32));
  const auto path = dir + "/" + sit::train::phema_snapshot_name(t, sigma_rel);
  sit::io::save_state_dict(state_dict, path,
                       {{sit::train::kConfigMetadataKey, config.to_json()},
                        {sit::train::kPhemaStepKey, std::to_string(t)},
                        {sit::train::kPhemaSigmaRelKey, Json(sigma_rel).dump()}});
  return path;
}

// The reference's snapshots, written into `dir`.
void write_reference_snapshots(const std::string& dir) {
  const auto& r = reference()["reconstruction"];
  for (size_t i = 0; i < r["in_steps"].size(); ++i) {
    write_snapshot(dir, r["in_steps"][i].get<int64_t>(), r["in_sigma_rels"][i].get<double>(), r["snapshots"][i]);
  }
}

}  // namespace

TEST_CASE("phema: sigma_rel to gamma and back as EDM2's std_to_exp and exp_to_std", "[train]") {
  for (const auto& row : reference()["sigma_rel_to_gamma"]) {
    const double sigma_rel = row[0].get<double>(), gamma = row[1].get<double>();
    INFO("sigma_rel " << sigma_rel);
    CHECK(close(sit::train::sigma_rel_to_gamma(sigma_rel), gamma));
    CHECK(std::abs(sit::train::gamma_to_sigma_rel(sit::train::sigma_rel_to_gamma(sigma_rel)) - sigma_rel) <= 1e-14);
  }
  for (double gamma : {0.0, 0.5, 6.94, 16.97, 100.0}) {
    INFO("gamma " << gamma);
    CHECK(close(sit::train::sigma_rel_to_gamma(sit::train::gamma_to_sigma_rel(gamma)), gamma));
  }
}

TEST_CASE("phema: the decay of step t is EDM2's power_function_beta at t * batch images", "[train]") {
  for (const auto& row : reference()["beta"]) {
    const double sigma_rel = row[0].get<double>(), beta = row[2].get<double>();
    const int64_t t = row[1].get<int64_t>();
    INFO("sigma_rel " << sigma_rel << ", step " << t);
    CHECK(std::abs(sit::train::power_function_beta(sigma_rel, t) - beta) <= 1e-10 * beta);
  }
}

TEST_CASE("phema: the coefficients are EDM2's solve_posthoc_coefficients", "[train]") {
  const auto& r = reference()["reconstruction"];
  const auto in_t = r["in_steps"].get<std::vector<int64_t>>();
  const auto in_sigma_rels = r["in_sigma_rels"].get<std::vector<double>>();
  const auto out_sigma_rels = r["out_sigma_rels"].get<std::vector<double>>();
  auto X = sit::train::solve_posthoc_coefficients(in_t, in_sigma_rels, r["out_step"].get<int64_t>(), out_sigma_rels);
  auto expected = tensor_of(r["coefficients"]);
  REQUIRE(X.sizes() == expected.sizes());
  CHECK((X - expected).abs().max().item<double>() <= 1e-10);

  // At an earlier step, from the snapshots up to it.
  const int64_t earlier = reference()["earlier"]["out_step"].get<int64_t>();
  std::vector<int64_t> kept_t;
  std::vector<double> kept_sigma_rels;
  for (size_t i = 0; i < in_t.size(); ++i) {
    if (in_t[i] > earlier) continue;
    kept_t.push_back(in_t[i]);
    kept_sigma_rels.push_back(in_sigma_rels[i]);
  }
  auto X_earlier = sit::train::solve_posthoc_coefficients(kept_t, kept_sigma_rels, earlier, out_sigma_rels);
  auto expected_earlier = tensor_of(reference()["earlier"]["coefficients"]);
  REQUIRE(X_earlier.sizes() == expected_earlier.sizes());
  CHECK((X_earlier - expected_earlier).abs().max().item<double>() <= 1e-10);
}

TEST_CASE("phema: a reconstruction from snapshot files sums them as reconstruct_phema.py", "[train]") {
  sit::test::TempDir dir;
  write_reference_snapshots(dir.path().string());
  const auto& r = reference()["reconstruction"];
  auto snapshots = sit::train::list_phema_snapshots(dir.path().string());
  REQUIRE(snapshots.size() == r["in_steps"].size());
  for (size_t i = 0; i < snapshots.size(); ++i) {  // sorted by (t, sigma_rel), as the reference's inputs
    CHECK(snapshots[i].t == r["in_steps"][i].get<int64_t>());
    CHECK(snapshots[i].sigma_rel == r["in_sigma_rels"][i].get<double>());
  }
  const auto out_sigma_rels = r["out_sigma_rels"].get<std::vector<double>>();
  auto outputs = sit::train::reconstruct_phema(snapshots, out_sigma_rels);
  REQUIRE(outputs.size() == out_sigma_rels.size());
  for (size_t j = 0; j < outputs.size(); ++j) {
    INFO("sigma_rel " << out_sigma_rels[j]);
    CHECK(outputs[j].t == r["out_step"].get<int64_t>());
    CHECK(outputs[j].metadata.at(sit::train::kPhemaStepKey) == std::to_string(outputs[j].t));
    CHECK(outputs[j].metadata.count(sit::train::kConfigMetadataKey) == 1);
    for (const auto& [name, values] : r["outputs"][j].items()) {
      const auto& got = outputs[j].state_dict[name];
      CHECK(got.scalar_type() == torch::kFloat32);
      // float32 sums of 16 terms of size <= 3 each: within 1e-5 of EDM2's float32 sums.
      CHECK((got.to(torch::kFloat64) - tensor_of(values)).abs().max().item<double>() <= 1e-5);
    }
  }
}

TEST_CASE("phema: clear errors for bad settings and snapshots", "[train]") {
  sit::test::TempDir dir;
  const auto folder = dir.path().string();
  using sit::test::message_of;
  CHECK_THAT(message_of([&] { sit::train::list_phema_snapshots(folder + "/none"); }),
             Catch::Contains("none") && Catch::Contains("no such folder"));
  CHECK_THAT(message_of([&] { sit::train::list_phema_snapshots(folder); }),
             Catch::Contains(folder) && Catch::Contains("no power-function EMA snapshots"));

  write_reference_snapshots(folder);
  auto snapshots = sit::train::list_phema_snapshots(folder);
  CHECK_THROWS_AS(sit::train::reconstruct_phema(snapshots, {0.3}), sit::config::ConfigError);
  CHECK_THAT(message_of([&] { sit::train::reconstruct_phema(snapshots, {0.1, 0.3}); }),
             Catch::Contains("sigma_rel 0.1,0.3") && Catch::Contains("(0, 0.289)"));
  CHECK_THAT(message_of([&] { sit::train::reconstruct_phema(snapshots, {0.1}, 450); }),
             Catch::Contains("step 450") && Catch::Contains("no snapshot"));

  sit::train::TrainConfig config;
  config.optim.phema_sigma_rel = {0.05, 0.0};
  CHECK_THAT(message_of([&] { config.validate(); }), Catch::Contains("phema_sigma_rel 0.05,0"));
  config.optim.phema_sigma_rel = {0.05, 0.0501};
  CHECK_THAT(message_of([&] { config.validate(); }), Catch::Contains("same to 3 decimals"));

  const auto& r = reference()["reconstruction"];
  SECTION("a snapshot of another run") {
    sit::train::TrainConfig other;
    other.optim.lr = 2e-4;
    write_snapshot(folder, 900, 0.05, r["snapshots"][0], other);
    CHECK_THAT(message_of([&] { sit::train::reconstruct_phema(sit::train::list_phema_snapshots(folder), {0.1}); }),
               Catch::Contains(sit::train::phema_snapshot_name(900, 0.05)) && Catch::Contains("another run"));
  }
  SECTION("a snapshot of another shape") {
    write_snapshot(folder, 900, 0.05, Json{{"a", {1.0, 2.0}}, {"b", r["snapshots"][0]["b"]}});
    CHECK_THAT(message_of([&] { sit::train::reconstruct_phema(sit::train::list_phema_snapshots(folder), {0.1}); }),
               Catch::Contains(sit::train::phema_snapshot_name(900, 0.05)) && Catch::Contains("'a' has another shape"));
  }
  SECTION("a snapshot without its step") {
    sit::io::write_safetensors(folder + "/" + sit::train::phema_snapshot_name(900, 0.05), sit::io::StateDict());
    CHECK_THAT(message_of([&] { sit::train::list_phema_snapshots(folder); }),
               Catch::Contains(sit::train::phema_snapshot_name(900, 0.05)) && Catch::Contains("phema_step"));
  }
}
