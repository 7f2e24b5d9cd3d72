#include <sit/train/ema.h>

#include <ATen/Parallel.h>

#include <algorithm>

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
  auto cpu_float = [](const std::vector<torch::Tensor>& tensors) {
    return std::all_of(tensors.begin(), tensors.end(), [](const torch::Tensor& t) {
      return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous();
    });
  };
  if (!cpu_float(targets) || !cpu_float(sources)) {
    torch::_foreach_mul_(targets, decay);
    torch::_foreach_add_(targets, sources, 1.0 - decay);
    return;
  }
  // On CPU one pass per parameter instead of two, the same arithmetic (float scalars, as ATen's
  // float kernels take them).
  const float keep = static_cast<float>(decay), add = static_cast<float>(1.0 - decay);
  for (size_t k = 0; k < targets.size(); ++k) {
    TORCH_CHECK(targets[k].numel() == sources[k].numel(), "update_ema: parameter ", k, " has ",
                targets[k].numel(), " values in the EMA model and ", sources[k].numel(), " in the model");
    float* e = targets[k].data_ptr<float>();
    const float* m = sources[k].data_ptr<float>();
    at::parallel_for(0, targets[k].numel(), 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) e[i] = e[i] * keep + add * m[i];
    });
  }
}

nn::SiT make_ema(const nn::SiT& model) {
  nn::SiT ema = std::dynamic_pointer_cast<nn::SiTImpl>(model->clone());
  for (auto& p : ema->parameters()) p.set_requires_grad(false);
  ema->eval();
  return ema;
}

}  // namespace sit::train
