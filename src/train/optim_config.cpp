#include <sit/train/optim_config.h>

#include <sit/train/phema.h>

namespace sit::train {

torch::optim::AdamWOptions OptimConfig::adamw_options() const {
  return torch::optim::AdamWOptions(lr).betas({adam_beta1, adam_beta2}).weight_decay(weight_decay);
}

void OptimConfig::validate() const {
  using config::require;
  using config::text;
  config::check_ranges(*this);
  require(global_batch_size > 0, "global_batch_size", std::to_string(global_batch_size), "must be positive");
  require(epochs >= 0, "epochs", std::to_string(epochs), "must not be negative");
  require(max_steps >= 0, "max_steps", std::to_string(max_steps), "must not be negative (0: epochs decide)");
  require(epochs > 0 || max_steps > 0, "epochs", "0", "and " + config::setting("max_steps") + " 0 leave nothing to train");
  require(lr > 0, "lr", text(lr), "must be positive");
  require(warmup_steps >= 0, "warmup_steps", std::to_string(warmup_steps), "must not be negative");
  require(min_lr >= 0 && min_lr <= lr, "min_lr", text(min_lr), "must be in [0, " + config::setting("lr") + "]");
  require(weight_decay >= 0, "weight_decay", text(weight_decay), "must not be negative");
  require(ema_decay >= 0 && ema_decay <= 1, "ema_decay", text(ema_decay), "must be in [0, 1]");
  check_sigma_rels("phema_sigma_rel", phema_sigma_rel);
  require(grad_clip >= 0, "grad_clip", text(grad_clip), "must not be negative (0: no clipping)");
}

}  // namespace sit::train
