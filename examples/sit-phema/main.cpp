// sit-phema: post-hoc EMA (EDM2's reconstruct_phema.py): the power-function EMA of any relative
// standard deviation, from the snapshots that sit-train --phema-sigma-rel writes.
//
//   sit-train --phema-sigma-rel 0.05,0.1 --results-dir results/run ...
//   sit-phema --snapshots results/run/phema --sigma-rel 0.05,0.075,0.1,0.15 --out-dir results/run/phema-out
//   sit-sample ODE --ckpt results/run/phema-out/phema-0010000-0.075.safetensors ...

#include <sit/io/state_dict.h>
#include <sit/train/phema.h>

#include <fmt/core.h>

#include <filesystem>
#include <optional>

#include "common.h"

namespace {

int run(const sit::train::PhemaReconstructionConfig& c) {
  c.validate();
  const auto snapshots = sit::train::list_phema_snapshots(c.snapshots);
  fmt::print("{} snapshots in {}, steps {} to {}\n", snapshots.size(), c.snapshots, snapshots.front().t,
             snapshots.back().t);
  auto step = c.step > 0 ? std::optional<int64_t>(c.step) : std::nullopt;
  for (const auto& out : sit::train::reconstruct_phema(snapshots, c.sigma_rel, step)) {
    const auto path = sit::train::phema_reconstruction_path(c.out_dir, out.t, out.sigma_rel);
    std::filesystem::create_directories(c.out_dir);
    sit::io::save_state_dict(out.state_dict, path, out.metadata);
    fmt::print("sigma_rel {} at step {}: {}\n", out.sigma_rel, out.t, path);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  sit::train::PhemaReconstructionConfig config;
  CLI::App app{"sit-phema: post-hoc EMA, the power-function EMA of any sigma_rel from sit-train's snapshots"};
  sit::examples::bind(app, config);
  app.get_option("--out-dir")->check(sit::examples::kOutputDir);
  return sit::examples::run_main("sit-phema", app, argc, argv, [&] { return run(config); });
}
