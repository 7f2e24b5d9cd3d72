#pragma once
// The random draws of sampling, per sample: sample i of a seed's sequence takes its initial noise
// and its SDE steps' noise from Philox stream i under a key made from the seed. A sample is then
// the same whatever the batch it is drawn in, the batch size, the rank that draws it and the
// world size; the draws are made on the host and moved to the model's device.
//
// Within stream i, draw d (0: the initial noise, s + 1: SDE step s) of copy r (the halves of the
// doubled batch of guidance) starts at block (d << 32) + (r << 28), room for 2^30 elements each.

#include <sit/transport/integrators.h>

#include <array>
#include <cstdint>

namespace sit::pipeline {

/// The initial noise of samples [first, first + n) of `seed`: (n, C, H, W) float32 on the CPU.
torch::Tensor initial_noise(uint64_t seed, int64_t first, int64_t n, std::array<int64_t, 3> shape);

/// The SDE's draws for samples [first, first + n) of `seed`: a state of k n rows (k copies of the
/// batch, the doubled batch of guidance) gets for row r n + i the draw of copy r of sample first + i.
transport::NoiseFn sde_noise(uint64_t seed, int64_t first, int64_t n);

}  // namespace sit::pipeline
