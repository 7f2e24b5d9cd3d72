#pragma once
// The tiny sit-train runs of the program tests: a data set that needs nothing installed (64
// latents of (4, 8, 8) in 4 classes, one shard) and free models small enough to train in seconds.

#include <ATen/CPUGeneratorImpl.h>
#include <sit/io/npy.h>
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace sit::test {

// The tiny data set's latents, drawn from seed 7.
inline torch::Tensor tiny_latents() { return torch::randn({64, 4, 8, 8}, at::detail::createCPUGenerator(7)); }

// `latents` as the latents_/labels_ shard pair of `dir`, labelled 0, 1, 2, 3, 0, ...
inline void write_latent_shard(const std::string& dir, const torch::Tensor& latents) {
  std::filesystem::create_directories(dir);
  sit::io::write_npy(dir + "/latents_00000.npy", latents);
  sit::io::write_npy(dir + "/labels_00000.npy", torch::arange(latents.size(0), torch::kInt64).remainder(4));
}

// A free model (no preset) of 2 heads.
inline std::string free_model(int64_t depth, int64_t hidden_size, int64_t patch_size = 4) {
  return " --model '' --patch-size " + std::to_string(patch_size) + " --depth " + std::to_string(depth) +
         " --hidden-size " + std::to_string(hidden_size) + " --num-heads 2";
}

// sit-train's flags for a run on the tiny latents in `data` (write_latent_shard).
struct TinyTraining {
  std::string data;
  int64_t depth = 1, hidden_size = 32, global_batch_size = 8;

  // The data, model and optimisation: what a checkpoint fixes.
  std::string setup() const {
    return " --data latents --data-path " + data + " --num-classes 4" + free_model(depth, hidden_size) +
           " --lr 1e-3 --ema-decay 0.9 --global-batch-size " + std::to_string(global_batch_size) +
           " --num-workers 1";
  }
  // The run's own (what a resume may set): one thread, a loss line a step, no sample grids.
  std::string run(const std::string& results, int64_t steps, int64_t ckpt_every) const {
    return " --threads 1 --log-every 1 --sample-every 100000 --ckpt-every " + std::to_string(ckpt_every) +
           " --max-steps " + std::to_string(steps) + " --results-dir " + results;
  }
  std::string args(const std::string& results, int64_t steps, int64_t ckpt_every) const {
    return setup() + run(results, steps, ckpt_every);
  }
};

}  // namespace sit::test
