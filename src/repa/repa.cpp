#include <sit/repa/encoder.h>
#include <sit/repa/repa.h>

namespace sit::repa {

void RepaOptions::validate(int64_t model_depth) const {
  config::check_ranges(*this);
  if (enabled()) check_encoder_spec(encoder());
  config::require(!enabled() || depth() <= model_depth, "repa_depth", std::to_string(depth()),
                  "must be at most the model's depth, " + std::to_string(model_depth));
}

torch::nn::Sequential build_projector(int64_t hidden_size, int64_t projector_dim, int64_t z_dim) {
  torch::nn::Sequential projector(torch::nn::Linear(hidden_size, projector_dim), torch::nn::SiLU(),
                                  torch::nn::Linear(projector_dim, projector_dim), torch::nn::SiLU(),
                                  torch::nn::Linear(projector_dim, z_dim));
  torch::NoGradGuard no_grad;
  for (const auto& module : projector->children()) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(linear->weight);
      torch::nn::init::zeros_(linear->bias);
    }
  }
  return projector;
}

torch::Tensor projection_loss(const torch::Tensor& z, const torch::Tensor& z_tilde) {
  TORCH_CHECK(z.dim() == 3 && z.sizes() == z_tilde.sizes(), "projection_loss: encoder and projected tokens of one "
              "shape (N, T, C), but got ", z.sizes(), " and ", z_tilde.sizes());
  namespace F = torch::nn::functional;
  auto cosine = (F::normalize(z, F::NormalizeFuncOptions().dim(-1)) *
                 F::normalize(z_tilde, F::NormalizeFuncOptions().dim(-1)))
                    .sum(-1);  // (N, T)
  return -cosine.mean(1).mean();  // loss.py: mean_flat per sample, summed, / N
}

}  // namespace sit::repa
