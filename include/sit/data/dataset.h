#pragma once
// The interface every training set implements: indexed examples, each drawn with its own random
// generator so a seeded run is reproducible whatever the number of loader threads.

#include <array>
#include <cstddef>
#include <cstdint>
#include <random>

#include <torch/types.h>

namespace sit::data {

struct Example {
  torch::Tensor x;  // (C, H, W) float32, model space ([-1, 1] for images)
  int64_t y = 0;    // class label in [0, num_classes)
};

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual size_t size() const = 0;

  // Example `index`, with any random augmentation (flips, posterior sampling) drawn from `rng`.
  // The loader seeds `rng` from (seed, epoch, index) (see example_rng in sampler.h). Called from
  // several threads at once.
  virtual Example get(size_t index, std::mt19937_64& rng) const = 0;

  virtual int64_t num_classes() const = 0;

  // (C, H, W) of every x.
  virtual std::array<int64_t, 3> shape() const = 0;
};

}  // namespace sit::data
