#pragma once
// Which examples a process visits in an epoch, and the generator each example is drawn with.

#include <cstdint>
#include <random>
#include <vector>

#include <torch/arg.h>

namespace sit::data {

struct SamplerOptions {
  // Seed of the epoch permutations (train.py: DistributedSampler(seed=global_seed)).
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(bool, shuffle) = true;
  // This process's shard of every epoch, for data-parallel training.
  TORCH_ARG(int64_t, rank) = 0;
  TORCH_ARG(int64_t, world_size) = 1;
};

// torch.utils.data.DistributedSampler (drop_last=False) for `epoch`: the permutation
// torch.randperm(size, generator seeded with seed + epoch) (identity without shuffle), padded by
// wrapping around to a multiple of world_size, then every world_size-th index from `rank`. The
// shards of all ranks are disjoint up to the padding and together cover the dataset; each holds
// ceil(size / world_size) indices. The permutation is LibTorch's own randperm, so it equals
// PyTorch's for the same torch version.
std::vector<int64_t> epoch_indices(int64_t size, int64_t epoch, const SamplerOptions& options);

// The generator of one example's augmentation: SplitMix64 hashing of (seed, epoch, index), so the
// draws depend on nothing else (not on thread, worker count, rank or world size).
std::mt19937_64 example_rng(uint64_t seed, int64_t epoch, int64_t index);

}  // namespace sit::data
