#include "random/draw_streams.h"

#include "train/training_draws.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#ifdef SIT_WITH_CUDA
#include "cuda/launch.h"

#include <ATen/cuda/CUDAContext.h>
#endif

namespace sit::train {

TrainingDraws training_draws(uint64_t seed, int64_t epoch, const torch::Tensor& index,
                             std::array<int64_t, 3> shape, double class_dropout_prob, torch::Device device,
                             bool interval) {
  TORCH_CHECK(index.dim() == 1 && index.scalar_type() == torch::kLong,
              "training_draws expects (B,) int64 indices, but got ", index.sizes(), " ", index.scalar_type());
  const int64_t batch = index.size(0), numel = shape[0] * shape[1] * shape[2];
  const auto floats = torch::TensorOptions(torch::kFloat32).device(device);
  TrainingDraws draws{torch::empty({batch, shape[0], shape[1], shape[2]}, floats),
                      torch::empty({batch}, floats), torch::empty({batch}, floats.dtype(torch::kLong))};
  if (interval) {
    draws.interval_normals = torch::empty({batch, 2}, floats);
    draws.interval_uniforms = torch::empty({batch}, floats);
  }
  float* interval_normals = interval ? draws.interval_normals.data_ptr<float>() : nullptr;
  float* interval_uniforms = interval ? draws.interval_uniforms.data_ptr<float>() : nullptr;
  const uint64_t key = random::draw_streams::key(seed, epoch);
  const auto drop_prob = static_cast<float>(class_dropout_prob);
  if (device.is_cuda()) {
#ifdef SIT_WITH_CUDA
    const auto indices = index.to(device).contiguous();
    cuda::launch_training_draws(indices.data_ptr<int64_t>(), batch, numel, key, drop_prob,
                                draws.noise.data_ptr<float>(), draws.t_uniform.data_ptr<float>(),
                                draws.drop.data_ptr<int64_t>(), interval_normals, interval_uniforms,
                                at::cuda::getCurrentCUDAStream(device.index()));
    return draws;
#else
    TORCH_CHECK(false, "training_draws on ", device, ": this build of sit has no CUDA kernels");
#endif
  }
  TORCH_CHECK(device.is_cpu(), "training_draws: no draws on ", device, " (CPU or CUDA)");
  const auto indices = index.cpu().contiguous();
  const int64_t* example = indices.data_ptr<int64_t>();
  float* noise = draws.noise.data_ptr<float>();
  float* t = draws.t_uniform.data_ptr<float>();
  int64_t* drop = draws.drop.data_ptr<int64_t>();
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const auto stream = static_cast<uint64_t>(example[i]);
      random::draw_streams::fill_normals(key, stream, 0, noise + i * numel, numel);
      random::draw_streams::time_and_drop(key, stream, drop_prob, t[i], drop[i]);
      if (interval) {
        random::draw_streams::interval_draws(key, stream, interval_normals[2 * i], interval_normals[2 * i + 1],
                                             interval_uniforms[i]);
      }
    }
  });
  return draws;
}

}  // namespace sit::train
