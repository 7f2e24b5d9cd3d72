#pragma once
// The reference cases of the official SiT code copied into tests/data/fixtures (see its README):
// each folder holds case.json, ckpt.pt and the .npy inputs and outputs.

#include <nlohmann/json.hpp>
#include <sit/io/npy.h>

#include "support/relative_l2.h"

#include <fstream>
#include <string>
#include <vector>

namespace sit::test {

inline std::string fixture_dir(const std::string& name) {
  return std::string(SIT_TEST_DATA_DIR) + "/fixtures/cases/" + name;
}

inline nlohmann::json read_case_json(const std::string& dir) {
  std::ifstream in(dir + "/case.json");
  if (!in) throw std::runtime_error("cannot open " + dir + "/case.json");
  return nlohmann::json::parse(in);
}

inline torch::Tensor read_case_npy(const std::string& dir, const std::string& name) {
  return sit::io::read_npy(dir + "/" + name + ".npy");
}

/// The sampler cases (folders of tests/data/fixtures/cases).
inline std::vector<std::string> sampler_case_names() {
  return {"ode_linear_velocity_euler",  "ode_linear_velocity_heun2",
          "ode_linear_velocity_dopri5", "ode_linear_velocity_heun2_nosigma",
          "ode_linear_velocity_heun2_cfg4", "ode_gvp_velocity_heun2",
          "ode_vp_velocity_euler",      "ode_linear_noise_heun2",
          "sde_linear_velocity_euler",
          // Adaptive solvers under CFG (make_guided_adaptive_cases.py).
          "ode_linear_velocity_dopri5_cfg4", "ode_linear_velocity_bosh3_cfg4",
          "ode_linear_velocity_adaptive_heun_cfg4", "ode_gvp_velocity_dopri5_cfg4"};
}

}  // namespace sit::test
