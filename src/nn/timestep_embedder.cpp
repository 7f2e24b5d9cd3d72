#include <sit/nn/timestep_embedder.h>

#include <cmath>

namespace sit::nn {

TimestepEmbedderImpl::TimestepEmbedderImpl(TimestepEmbedderOptions options_)
    : options(std::move(options_)) {
  reset();
}

void TimestepEmbedderImpl::reset() {
  int64_t hidden = options.hidden_size();
  mlp = register_module(
      "mlp", torch::nn::Sequential(torch::nn::Linear(options.frequency_embedding_size(), hidden),
                                   torch::nn::SiLU(), torch::nn::Linear(hidden, hidden)));
}

void TimestepEmbedderImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::TimestepEmbedder(hidden_size=" << options.hidden_size()
         << ", frequency_embedding_size=" << options.frequency_embedding_size() << ")";
}

torch::Tensor TimestepEmbedderImpl::timestep_embedding(const torch::Tensor& t, int64_t dim,
                                                       double max_period) {
  int64_t half = dim / 2;
  // Made on t's device: a host-to-device copy here would stall every call and cannot be
  // captured in a CUDA graph.
  // float32 as the official t.float(); float64 times stay float64 (finite-difference checks).
  const auto dtype = t.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto positions = torch::arange(0, half, torch::TensorOptions().dtype(dtype).device(t.device()));
  auto freqs = torch::exp(-std::log(max_period) * positions / half);  // (half,)
  auto args = t.unsqueeze(1).to(dtype) * freqs.unsqueeze(0);  // (N, half)
  auto embedding = torch::cat({torch::cos(args), torch::sin(args)}, -1);
  if (dim % 2) {
    embedding = torch::cat({embedding, torch::zeros_like(embedding.slice(1, 0, 1))}, -1);
  }
  return embedding;  // (N, dim)
}

torch::Tensor TimestepEmbedderImpl::forward(const torch::Tensor& t) {
  auto t_freq = timestep_embedding(t, options.frequency_embedding_size());
  return mlp->forward(t_freq.to(mlp->parameters()[0].dtype()));
}

}  // namespace sit::nn
