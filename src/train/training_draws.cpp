#include <sit/data/sampler.h>
#include <sit/train/training_draws.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace sit::train {

TrainingDraws training_draws(uint64_t seed, int64_t epoch, const torch::Tensor& index,
                             std::array<int64_t, 3> shape, double class_dropout_prob) {
  TORCH_CHECK(index.dim() == 1 && index.scalar_type() == torch::kLong,
              "training_draws expects (B,) int64 indices, but got ", index.sizes(), " ",
              index.scalar_type());
  const auto indices = index.contiguous().cpu();
  const int64_t batch = indices.size(0);
  TrainingDraws draws{torch::empty({batch, shape[0], shape[1], shape[2]}, torch::kFloat32),
                      torch::empty({batch}, torch::kFloat32), torch::empty({batch}, torch::kLong)};
  const int64_t* example = indices.data_ptr<int64_t>();
  float* t_uniform = draws.t_uniform.data_ptr<float>();
  int64_t* drop = draws.drop.data_ptr<int64_t>();
  for (int64_t i = 0; i < batch; ++i) {
    // The example's augmentation uses example_rng(seed, ...); the complemented seed keeps the
    // loss's draws a separate stream.
    auto generator = at::detail::createCPUGenerator(data::example_rng(~seed, epoch, example[i])());
    draws.noise[i].normal_(0.0, 1.0, generator);
    const auto uniforms = torch::rand({2}, generator);  // [t, label dropout]
    t_uniform[i] = uniforms.data_ptr<float>()[0];
    drop[i] = uniforms.data_ptr<float>()[1] < class_dropout_prob ? 1 : 0;
  }
  return draws;
}

}  // namespace sit::train
