#pragma once
// The optimisation of a run: batch, length, seed, AdamW, learning-rate schedule, EMA, clipping.

#include <sit/config/fields.h>
#include <sit/train/lr_schedule.h>

#include <torch/optim/adamw.h>

#include <vector>

namespace sit::train {

struct OptimConfig {
  int64_t global_batch_size = 256;
  int64_t epochs = 1400;
  int64_t max_steps = 0;  // 0: no limit but epochs
  uint64_t global_seed = 0;
  double lr = 1e-4;
  LrSchedule lr_schedule = LrSchedule::Constant;
  int64_t warmup_steps = 0;
  double min_lr = 0.0;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;  // torch.optim.AdamW's betas
  double adam_beta2 = 0.999;
  double ema_decay = 0.9999;
  std::vector<double> phema_sigma_rel;  // power-function EMAs to track (phema.h); empty: none
  double grad_clip = 0.0;  // max gradient norm; 0: none

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("global_batch_size", self.global_batch_size, "batch over all ranks");
    field("epochs", self.epochs, "passes over the data (when --max-steps is 0)");
    field("max_steps", self.max_steps, "stop after this many steps (0: epochs decide)");
    field("global_seed", self.global_seed, "seed of initialisation, data order and the loss's draws");
    field("lr", self.lr, "AdamW learning rate");
    field("lr_schedule", self.lr_schedule, "learning-rate schedule (cosine decays to --min-lr at the last step)");
    field("warmup_steps", self.warmup_steps, "steps of linear warm-up");
    field("min_lr", self.min_lr, "the cosine schedule's floor");
    field("weight_decay", self.weight_decay, "AdamW weight decay");
    field("adam_beta1", self.adam_beta1, "AdamW's beta1, the decay of the gradient's mean", config::half_open(0, 1));
    field("adam_beta2", self.adam_beta2,
          "AdamW's beta2, the decay of the squared gradient's mean (LightningDiT and MeanFlow: 0.95)",
          config::half_open(0, 1));
    field("ema_decay", self.ema_decay, "decay of the EMA of the weights");
    field("phema_sigma_rel", self.phema_sigma_rel,
          "relative standard deviations of power-function EMAs to track for post-hoc EMA (EDM2: 0.05,0.1); "
          "empty: none");
    field("grad_clip", self.grad_clip, "max gradient norm (0: no clipping)");
  }

  /// AdamW's options of the run: lr, betas, weight decay (torch.optim.AdamW's eps, 1e-8).
  torch::optim::AdamWOptions adamw_options() const;

  /// Throws ConfigError for non-positive batch or lr, negative steps, decays outside [0, 1], betas
  /// outside [0, 1), a phema_sigma_rel outside (0, 0.289).
  void validate() const;
};

}  // namespace sit::train
