#pragma once
// A training configuration and data small enough for unit tests: a 1-block, 32-wide free model on
// (1, 8, 8) images, batch 8, Euler sample grids of 4 points with CFG 2.

#include <sit/data/dataset.h>
#include <sit/train/train_config.h>

#include <torch/torch.h>

#include <memory>
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

// 64 examples of (1, 8, 8) in [-1, 1], 4 classes, each a deterministic function of its index.
class TinyDataset : public sit::data::Dataset {
 public:
  size_t size() const override { return 64; }
  sit::data::Example get(size_t index, std::mt19937_64&) const override {
    auto i = static_cast<double>(index);
    auto grid = torch::linspace(-1, 1, 8);
    auto x = torch::sin(grid.unsqueeze(1) * (1 + i / 16) + grid.unsqueeze(0) * i / 8).unsqueeze(0);
    return {x.to(torch::kFloat32), static_cast<int64_t>(index % 4)};
  }
  int64_t num_classes() const override { return 4; }
  std::array<int64_t, 3> shape() const override { return {1, 8, 8}; }
};

}  // namespace sit::test
