#include <sit/nn/rotary_embedding.h>

namespace sit::nn {

namespace {

// x: (..., 2 m) -> (..., 2 m), each pair (a, b) of the last dimension replaced by (-b, a).
torch::Tensor rotate_half(const torch::Tensor& x) {
  auto pairs_shape = x.sizes().vec();
  pairs_shape.back() /= 2;
  pairs_shape.push_back(2);
  auto pairs = x.reshape(pairs_shape);  // (..., m, 2)
  return torch::stack({-pairs.select(-1, 1), pairs.select(-1, 0)}, -1).flatten(-2);
}

}  // namespace

VisionRotaryEmbeddingFastImpl::VisionRotaryEmbeddingFastImpl(VisionRotaryEmbeddingFastOptions options_)
    : options(std::move(options_)) {
  reset();
}

void VisionRotaryEmbeddingFastImpl::reset() {
  const int64_t dim = options.dim(), S = options.pt_seq_len();
  TORCH_CHECK(dim > 0 && dim % 2 == 0, "VisionRotaryEmbeddingFast: dim must be a positive even number, but got ",
              dim);
  // The operations of LightningDiT's float32 tables, in its order.
  auto exponents = torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / dim;  // (dim / 2)
  auto freqs = 1.0 / torch::pow(options.theta(), exponents);
  auto positions = torch::arange(S, torch::kInt64).to(torch::kFloat32) / S * S;        // (S)
  auto angles = torch::outer(positions, freqs).repeat_interleave(2, -1);               // (S, dim)
  auto grid = torch::cat({angles.unsqueeze(1).expand({S, S, dim}), angles.unsqueeze(0).expand({S, S, dim})},
                         -1);  // (S, S, 2 dim): row angles, then column angles
  freqs_cos = register_buffer("freqs_cos", grid.cos().view({S * S, 2 * dim}));
  freqs_sin = register_buffer("freqs_sin", grid.sin().view({S * S, 2 * dim}));
}

void VisionRotaryEmbeddingFastImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::VisionRotaryEmbeddingFast(dim=" << options.dim() << ", pt_seq_len=" << options.pt_seq_len()
         << ")";
}

torch::Tensor VisionRotaryEmbeddingFastImpl::forward(const torch::Tensor& t) const {
  return t * freqs_cos + rotate_half(t) * freqs_sin;
}

}  // namespace sit::nn
