// training_draws on the device: one thread per Philox block, the same numbers as the host loop.

#include "random/draw_streams.h"
#include "cuda/check.h"
#include "cuda/launch.h"

namespace sit::cuda {

namespace {

// Thread (i, b): block b of example i; the block after the last noise block is the time's (and
// the interval draws').
__global__ void training_draws_kernel(const int64_t* index, int64_t batch, int64_t numel,
                                      int64_t blocks_per_example, uint64_t key, float drop_prob,
                                      float* noise, float* t, int64_t* drop, float* interval_normals,
                                      float* interval_uniforms) {
  const int64_t thread = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (thread >= batch * blocks_per_example) return;
  const int64_t i = thread / blocks_per_example, block = thread % blocks_per_example;
  const auto example = static_cast<uint64_t>(index[i]);
  if (block == blocks_per_example - 1) {
    random::draw_streams::time_and_drop(key, example, drop_prob, t[i], drop[i]);
    if (interval_normals != nullptr) {
      random::draw_streams::interval_draws(key, example, interval_normals[2 * i], interval_normals[2 * i + 1],
                                           interval_uniforms[i]);
    }
    return;
  }
  float values[4];
  random::draw_streams::noise(key, example, static_cast<uint64_t>(block), values);
  float* out = noise + i * numel;
  for (int64_t lane = 0, j = 4 * block; lane < 4 && j < numel; ++lane, ++j) out[j] = values[lane];
}

}  // namespace

void launch_training_draws(const int64_t* index, int64_t batch, int64_t numel, uint64_t key,
                           float drop_prob, float* noise, float* t, int64_t* drop, float* interval_normals,
                           float* interval_uniforms, cudaStream_t stream) {
  const int64_t blocks_per_example = (numel + 3) / 4 + 1;
  const int64_t threads = batch * blocks_per_example;
  if (threads == 0) return;
  constexpr int kBlock = 256;
  training_draws_kernel<<<static_cast<unsigned>((threads + kBlock - 1) / kBlock), kBlock, 0, stream>>>(
      index, batch, numel, blocks_per_example, key, drop_prob, noise, t, drop, interval_normals, interval_uniforms);
  check_launch("training_draws");
}

}  // namespace sit::cuda
