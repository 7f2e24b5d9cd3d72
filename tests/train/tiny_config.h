#pragma once
// A training configuration small enough for unit tests: a 1-block, 32-wide free model on (1, 8, 8)
// images, batch 8, Euler sample grids of 4 points with CFG 2.

#include <sit/train/train_config.h>

#include <string>

namespace sit::test {

inline sit::train::TrainConfig tiny_config(const std::string& results) {
  sit::train::TrainConfig c;
  c.model.model = "";
  c.model.architecture.patch_size(4);
  c.model.architecture.depth(1);
  c.model.architecture.hidden_size(32);
  c.model.architecture.num_heads(2);
  c.optim.global_batch_size = 8;
  c.data.num_workers = 1;
  c.optim.lr = 1e-3;
  c.optim.ema_decay = 0.9;
  c.optim.grad_clip = 1.0;
  c.optim.lr_schedule = sit::train::LrSchedule::Cosine;
  c.optim.warmup_steps = 2;
  c.optim.max_steps = 20;
  c.run.results_dir = results;
  c.run.sampler.num_steps(4);
  c.run.sampler.ode_method(sit::transport::OdeMethod::Euler);
  c.run.guidance.cfg_scale(2.0);
  return c;
}

}  // namespace sit::test
