#include <sit/train/run_config.h>

namespace sit::train {

void RunConfig::validate() const {
  using config::require;
  require(!results_dir.empty(), "results_dir", "''", "must name a directory");
  require(log_every > 0, "log_every", std::to_string(log_every), "must be positive");
  require(ckpt_every > 0, "ckpt_every", std::to_string(ckpt_every), "must be positive");
  require(sample_every > 0, "sample_every", std::to_string(sample_every), "must be positive");
  require(phema_every > 0, "phema_every", std::to_string(phema_every), "must be positive");
  require(cfg_scale >= 0, "cfg_scale", config::text(cfg_scale), "must not be negative");
  require(sample_steps >= 2, "sample_steps", std::to_string(sample_steps), "the time grid needs at least 2 points");
  require(max_bad_steps > 0, "max_bad_steps", std::to_string(max_bad_steps), "must be positive");
}

}  // namespace sit::train
