// The parity table of docs/parity.md, measured: every reference case of tests/data/fixtures (the
// official SiT code) and tests/data/vae (diffusers' AutoencoderKL) run through the public API, one
// markdown row per case and check. Exits 1 when a row misses its tolerance (or its model
// evaluation count), so `ctest -L parity` fails with it.
#include <ATen/CPUGeneratorImpl.h>
#include <sit/vae/vae_from_state_dict.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "fixture_runner.h"

using namespace sit::test;

namespace {

struct Row {
  std::string check;
  double tolerance = 0;
  double measured = 0;
  std::string evaluations;  // "ours / official", empty where there are none
  bool evaluations_match = true;
  std::string error;  // what was thrown, when the check could not run

  bool pass() const { return error.empty() && measured < tolerance && evaluations_match; }
};

std::string scientific(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1e", value);
  return buffer;
}

// Adds the rows `body` makes, or one failing row named `check` with what it threw.
void collect(std::vector<Row>& rows, const std::string& check, double tolerance,
             const std::function<void(std::vector<Row>&)>& body) {
  try {
    body(rows);
  } catch (const std::exception& e) {
    Row row{check, tolerance};
    row.error = e.what();
    for (char& c : row.error) {
      if (c == '\n' || c == '|') c = ' ';  // one table cell
    }
    rows.push_back(row);
  }
}

void forward_rows(std::vector<Row>& rows) {
  for (const auto& name : sampler_case_names()) {
    collect(rows, "`" + name + "` forward", 1e-5, [&](std::vector<Row>& out) {
      for (const auto& [file, error] : forward_errors(name)) {
        out.push_back({"`" + name + "` " + file, 1e-5, error});
      }
    });
  }
}

void sampler_rows(std::vector<Row>& rows) {
  torch::NoGradGuard no_grad;
  for (const auto& name : sampler_case_names()) {
    collect(rows, "`" + name + "` sample", 1e-4, [&](std::vector<Row>& out) {
      auto dir = fixture_dir(name);
      auto json = read_case_json(dir);
      auto run = run_case(name);
      double tolerance = sampler_tolerance(json);
      int64_t ours = run.result.model_evaluations;
      int64_t official = json["model_evaluations"].get<int64_t>();
      bool ode = json["sampler"]["mode"] == "ODE";
      Row row{"`" + name + "` sample", tolerance,
              relative_l2(run.result.sample.slice(0, 0, run.n_images), read_case_npy(dir, "expected"))};
      row.evaluations = std::to_string(ours) + " / " + std::to_string(official) + (ode ? "" : " (official: 2 per drift)");
      row.evaluations_match = official_evaluations_in_ours(json, ours) == official;
      if (ode) {
        auto grid = torch::tensor(json["time_grid"].get<std::vector<float>>());
        if (!torch::allclose(run.result.time_grid, grid, 0, 1e-7)) row.error = "time grid differs";
      }
      out.push_back(row);
      if (std::filesystem::exists(dir + "/trajectory.npy")) {
        auto expected = read_case_npy(dir, "trajectory");
        Row trajectory{"`" + name + "` trajectory", tolerance};
        if (run.result.trajectory.size(0) != expected.size(0)) {
          trajectory.error = "trajectory has " + std::to_string(run.result.trajectory.size(0)) +
                             " states, the official " + std::to_string(expected.size(0));
        } else {
          trajectory.measured = relative_l2(run.result.trajectory.slice(1, 0, run.n_images), expected);
        }
        out.push_back(trajectory);
      }
    });
  }
}

void loss_rows(std::vector<Row>& rows) {
  for (const auto& name : loss_case_names()) {
    collect(rows, "`" + name + "` loss", 1e-5, [&](std::vector<Row>& out) {
      auto run = run_loss_case(name);
      out.push_back({"`" + name + "` model prediction", 1e-5, run.pred_error});
      out.push_back({"`" + name + "` per-sample loss", 1e-5, run.loss_error});
      Row gradients{"`" + name + "` gradients (max over " + std::to_string(run.gradient_errors.size()) +
                        " parameters)",
                    1e-4, run.max_gradient_error()};
      if (run.gradient_errors.size() != run.num_parameters - 1) {  // all but pos_embed
        gradients.error = std::to_string(run.gradient_errors.size()) + " official gradients for " +
                          std::to_string(run.num_parameters) + " parameters";
      }
      out.push_back(gradients);
    });
  }
}

// As tests/vae/test_vae.cpp checks it: the small AutoencoderKL against diffusers 0.21.4.
void vae_rows(std::vector<Row>& rows) {
  const double tolerance = 1e-5;
  collect(rows, "VAE `small`", tolerance, [&](std::vector<Row>& out) {
    torch::NoGradGuard no_grad;
    const std::string dir = std::string(SIT_TEST_DATA_DIR) + "/vae/small";
    auto fixture = [&](const std::string& name) { return sit::io::read_npy(dir + "/" + name + ".npy"); };
    auto add = [&](const std::string& check, const torch::Tensor& ours, const std::string& file) {
      out.push_back({"VAE " + check, tolerance, relative_l2(ours, fixture(file))});
    };
    std::ifstream case_json(dir + "/case.json");
    auto seed = nlohmann::json::parse(case_json)["eps_generator_seed"].get<uint64_t>();
    auto vae = sit::vae::load_vae(dir + "/vae.safetensors");
    auto x = fixture("x");
    auto posterior = vae->encode(x);
    add("encode mean", posterior.mean, "mean");
    add("encode logvar", posterior.logvar, "logvar");
    add("encode std", posterior.std(), "std");
    auto generator = at::detail::createCPUGenerator(seed);
    add("z_sample (seeded)", posterior.sample(generator), "z_sample");
    add("decode", vae->decode(fixture("latent_in")), "decoded");
    add("roundtrip (decode of the mean)", vae->forward(x), "roundtrip");
    auto rect = vae->encode(fixture("x_rect"));
    add("non-square encode mean", rect.mean, "mean_rect");
    add("non-square encode logvar", rect.logvar, "logvar_rect");
    add("non-square decode", vae->decode(fixture("latent_rect")), "decoded_rect");
  });
}

}  // namespace

int main() {
  std::vector<Row> rows;
  forward_rows(rows);
  sampler_rows(rows);
  loss_rows(rows);
  vae_rows(rows);

  std::cout << "| check | tolerance | measured rel. L2 | evaluations (ours / official) | result |\n"
            << "| --- | --- | --- | --- | --- |\n";
  int failures = 0;
  for (const auto& row : rows) {
    bool pass = row.pass();
    failures += pass ? 0 : 1;
    std::string result = pass ? "pass" : "**FAIL**";
    if (!row.error.empty()) result += ": " + row.error;
    if (!row.evaluations_match) result += ": evaluation count differs";
    std::cout << "| " << row.check << " | " << scientific(row.tolerance) << " | "
              << (row.error.empty() || row.measured > 0 ? scientific(row.measured) : "-") << " | "
              << (row.evaluations.empty() ? "-" : row.evaluations) << " | " << result << " |\n";
  }
  std::cout << "\n" << rows.size() - failures << " of " << rows.size() << " checks pass\n";
  return failures == 0 ? 0 : 1;
}
