#pragma once
// Where the training draws of one example lie on the Philox streams: the key is made from (seed,
// epoch), the stream is the example's dataset index, and within it block b holds noise elements
// 4b..4b+3 while block 2^63 holds the time and the label-dropout uniforms and block 2^63 + 1
// MeanFlow's (interval_draws). Shared by the host loop
// and the CUDA kernel, which therefore draw the same numbers.

#include "random/philox.h"
#include "random/splitmix64.h"

namespace sit::random::draw_streams {

constexpr uint64_t kTimeBlock = uint64_t{1} << 63;
constexpr uint64_t kIntervalBlock = kTimeBlock + 1;

/// The Philox key of epoch `epoch` under `seed` (SplitMix64 finalisers: nearby seeds and epochs
/// give unrelated keys).
inline uint64_t key(uint64_t seed, int64_t epoch) { return splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)); }

/// Noise elements 4 block .. 4 block + 3 of example `example`.
SIT_HOST_DEVICE inline void noise(uint64_t key, uint64_t example, uint64_t block, float out[4]) {
  philox::normals(philox::stream_block(key, example, block), out);
}

/// Elements [0, numel) of stream `stream` from block `first_block` on: 4 per block.
inline void fill_normals(uint64_t key, uint64_t stream, uint64_t first_block, float* out, int64_t numel) {
  float values[4];
  for (int64_t j = 0; j < numel; j += 4) {
    noise(key, stream, first_block + static_cast<uint64_t>(j / 4), values);
    for (int64_t lane = 0; lane < 4 && j + lane < numel; ++lane) out[j + lane] = values[lane];
  }
}

/// The example's time uniform on [0, 1) and its label dropout (1 with probability `drop_prob`).
SIT_HOST_DEVICE inline void time_and_drop(uint64_t key, uint64_t example, float drop_prob, float& t,
                                          int64_t& drop) {
  const philox::Block b = philox::stream_block(key, example, kTimeBlock);
  t = philox::uniform(b.v[0]);
  drop = philox::uniform(b.v[1]) < drop_prob ? 1 : 0;
}

/// MeanFlow's draws of the example: the standard normals of its two times (Box-Muller on the
/// block's first two words) and the uniform that decides r = t (its third word).
SIT_HOST_DEVICE inline void interval_draws(uint64_t key, uint64_t example, float& normal_t, float& normal_r,
                                           float& uniform) {
  const philox::Block b = philox::stream_block(key, example, kIntervalBlock);
  float values[4];
  philox::normals(b, values);
  normal_t = values[0];
  normal_r = values[1];
  uniform = philox::uniform(b.v[2]);
}

}  // namespace sit::random::draw_streams
