#include "pipeline/sample_draws.h"

#include "random/draw_streams.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace sit::pipeline {

namespace {

// The sampling streams' key: unrelated to every training key (draw_streams::key) of the same seed.
uint64_t sampling_key(uint64_t seed) { return random::splitmix64(random::splitmix64(seed) ^ 0x53616D706C696E67ull); }

uint64_t first_block(int64_t draw, int64_t copy) {
  return (static_cast<uint64_t>(draw) << 32) + (static_cast<uint64_t>(copy) << 28);
}

// Draw `draw` of rows x: (k n, ...), row r n + i from copy r of sample first + i.
torch::Tensor draws(uint64_t seed, int64_t first, int64_t n, int64_t draw, torch::IntArrayRef shape) {
  TORCH_CHECK(shape.size() >= 1 && n > 0 && shape[0] % n == 0, "sample draws: ", shape, " rows are not copies of ", n,
              " samples");
  auto out = torch::empty(shape, torch::kFloat32);
  const int64_t rows = shape[0], numel = out.numel() / rows;
  TORCH_CHECK(numel <= (int64_t{1} << 30), "sample draws: ", numel, " elements per sample exceed a stream's 2^30");
  const uint64_t key = sampling_key(seed);
  float* data = out.data_ptr<float>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const auto stream = static_cast<uint64_t>(first + row % n);
      random::draw_streams::fill_normals(key, stream, first_block(draw, row / n), data + row * numel, numel);
    }
  });
  return out;
}

}  // namespace

torch::Tensor initial_noise(uint64_t seed, int64_t first, int64_t n, std::array<int64_t, 3> shape) {
  return draws(seed, first, n, 0, {n, shape[0], shape[1], shape[2]});
}

transport::NoiseFn sde_noise(uint64_t seed, int64_t first, int64_t n) {
  return [=](int64_t step, const torch::Tensor& x) {
    return draws(seed, first, n, step + 1, x.sizes()).to(x.device(), x.scalar_type());
  };
}

}  // namespace sit::pipeline
