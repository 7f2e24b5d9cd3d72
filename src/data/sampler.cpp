#include <sit/data/sampler.h>

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/types.h>

#include "random/splitmix64.h"

namespace sit::data {

std::vector<int64_t> epoch_indices(int64_t size, int64_t epoch, const SamplerOptions& options) {
  TORCH_CHECK(size > 0, "epoch_indices expects a non-empty dataset");
  TORCH_CHECK(options.world_size() > 0 && options.rank() >= 0 &&
                  options.rank() < options.world_size(),
              "epoch_indices expects 0 <= rank < world_size, but got rank=", options.rank(),
              " world_size=", options.world_size());
  std::vector<int64_t> order(size);
  if (options.shuffle()) {
    auto generator = at::detail::createCPUGenerator(options.seed() + static_cast<uint64_t>(epoch));
    const torch::Tensor permutation = torch::randperm(size, generator, torch::kLong);
    std::copy_n(permutation.data_ptr<int64_t>(), size, order.begin());
  } else {
    for (int64_t i = 0; i < size; ++i) order[i] = i;
  }
  const int64_t per_rank = (size + options.world_size() - 1) / options.world_size();
  std::vector<int64_t> shard(per_rank);
  for (int64_t k = 0; k < per_rank; ++k) {
    shard[k] = order[(options.rank() + k * options.world_size()) % size];
  }
  return shard;
}

std::mt19937_64 example_rng(uint64_t seed, int64_t epoch, int64_t index) {
  using random::splitmix64;
  const uint64_t key = splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^
                                  static_cast<uint64_t>(index));
  return std::mt19937_64(key);
}

}  // namespace sit::data
