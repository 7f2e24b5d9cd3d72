#include <sit/train/ema.h>

namespace sit::train {

void update_ema(torch::nn::Module& ema, const torch::nn::Module& model, double decay) {
  torch::NoGradGuard no_grad;
  auto ema_params = ema.named_parameters();
  auto model_params = model.named_parameters();
  std::vector<torch::Tensor> targets, sources;
  targets.reserve(model_params.size());
  sources.reserve(model_params.size());
  for (const auto& item : model_params) {
    auto* target = ema_params.find(item.key());
    TORCH_CHECK(target != nullptr, "update_ema: the EMA model has no parameter '", item.key(), "'");
    targets.push_back(*target);
    sources.push_back(item.value());
  }
  torch::_foreach_mul_(targets, decay);
  torch::_foreach_add_(targets, sources, 1.0 - decay);
}

}  // namespace sit::train
