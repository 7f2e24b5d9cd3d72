#pragma once
// A run's outputs: where they go, how often the log, checkpoints and sample grids (EMA model, ODE
// sampler, classifier-free guidance) are written; how it restarts and when bad steps stop it.

#include <sit/config/fields.h>
#include <sit/transport/guidance.h>
#include <sit/transport/sampler.h>

#include <string>

namespace sit::train {

struct RunConfig {
  std::string results_dir = "results";
  int64_t log_every = 100;
  int64_t ckpt_every = 50000;
  int64_t sample_every = 10000;
  /// The ODE sampler and the guidance of the sample grids and of --eval-every: sit-sample's
  /// settings (the same flags and checks), at 50 heun2 grid points and CFG 4.
  transport::SamplerOptions sampler = transport::SamplerOptions().num_steps(50).ode_method(transport::OdeMethod::Heun2);
  transport::GuidanceOptions guidance;
  int64_t phema_every = 4096;  // EDM2's 8 Mi images between snapshots, at its batch of 2048
  bool auto_resume = false;
  int64_t max_bad_steps = 10;
  std::string init_from;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("results_dir", self.results_dir, "log, checkpoints/ and samples/ go here");
    field("log_every", self.log_every, "steps between log lines", config::positive);
    field("ckpt_every", self.ckpt_every, "steps between checkpoints", config::positive);
    field("sample_every", self.sample_every, "steps between sample grids", config::positive);
    field("phema_every", self.phema_every, "steps between power-function EMA snapshots (<results-dir>/phema)",
          config::positive);
    transport::SamplerOptions::fields(self.sampler, field);
    transport::SamplerOptions::ode_fields(self.sampler, field);
    transport::GuidanceOptions::fields(self.guidance, field);
    field("auto_resume", self.auto_resume,
          "continue from the newest checkpoint in <results-dir>/checkpoints when there is one");
    field("max_bad_steps", self.max_bad_steps,
          "stop after this many consecutive steps skipped for a non-finite loss or gradient", config::positive);
    field("init_from", self.init_from,
          "start a new run from this checkpoint's weights (its EMA); a flow-matching one starts a --meanflow "
          "model at u(z, t, h) = v(z, t)");
  }

  /// Throws ConfigError for an empty results_dir, non-positive cadences or max_bad_steps, and what
  /// the sampler's and the guidance's validate() refuse.
  void validate() const;
};

}  // namespace sit::train
