#pragma once
// TimestepEmbedder: scalar diffusion times to vectors (official models.py).

#include <torch/torch.h>

namespace sit::nn {

struct TimestepEmbedderOptions {
  /* implicit */ TimestepEmbedderOptions(int64_t hidden_size) : hidden_size_(hidden_size) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(int64_t, frequency_embedding_size) = 256;
};

/// Sinusoidal features followed by Linear-SiLU-Linear (`mlp.0`, `mlp.2`).
class TimestepEmbedderImpl : public torch::nn::Cloneable<TimestepEmbedderImpl> {
 public:
  explicit TimestepEmbedderImpl(TimestepEmbedderOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// t: (N,) possibly fractional times -> (N, dim) float32 (float64 for float64 t) features [cos(t f), sin(t f)],
  /// f_k = max_period^(-k / half), k < half = dim / 2; a zero column is appended when dim is odd.
  static torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim,
                                          double max_period = 10000.0);

  /// t: (N,) -> (N, hidden_size).
  torch::Tensor forward(const torch::Tensor& t);

  TimestepEmbedderOptions options;
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(TimestepEmbedder);

}  // namespace sit::nn
