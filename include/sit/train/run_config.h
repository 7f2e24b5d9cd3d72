#pragma once
// A run's outputs: where they go, how often the log, checkpoints and sample grids (EMA model, ODE
// sampler, classifier-free guidance) are written; how it restarts and when bad steps stop it.

#include <sit/config/fields.h>
#include <sit/transport/odeint.h>

#include <string>

namespace sit::train {

struct RunConfig {
  std::string results_dir = "results";
  int64_t log_every = 100;
  int64_t ckpt_every = 50000;
  int64_t sample_every = 10000;
  int64_t phema_every = 4096;  // EDM2's 8 Mi images between snapshots, at its batch of 2048
  double cfg_scale = 4.0;
  int64_t sample_steps = 50;
  transport::OdeMethod sample_method = transport::OdeMethod::Heun2;
  bool auto_resume = false;
  int64_t max_bad_steps = 10;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("results_dir", self.results_dir, "log, checkpoints/ and samples/ go here");
    field("log_every", self.log_every, "steps between log lines");
    field("ckpt_every", self.ckpt_every, "steps between checkpoints");
    field("sample_every", self.sample_every, "steps between sample grids");
    field("phema_every", self.phema_every, "steps between power-function EMA snapshots (<results-dir>/phema)");
    field("cfg_scale", self.cfg_scale, "guidance scale of the sample grids (1: none)");
    field("sample_steps", self.sample_steps, "ODE grid points of the sample grids");
    field("sample_method", self.sample_method, "ODE solver of the sample grids");
    field("auto_resume", self.auto_resume,
          "continue from the newest checkpoint in <results-dir>/checkpoints when there is one");
    field("max_bad_steps", self.max_bad_steps,
          "stop after this many consecutive steps skipped for a non-finite loss or gradient");
  }

  /// Throws ConfigError for non-positive cadences or max_bad_steps, fewer than 2 grid points, a
  /// negative scale.
  void validate() const;
};

}  // namespace sit::train
