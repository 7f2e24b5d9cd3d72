#include <sit/train/adamw.h>

#include <stdexcept>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define SIT_FUSED_ADAMW 1
#endif

namespace sit::train {

bool fused_adamw_available() {
#ifdef SIT_FUSED_ADAMW
  return true;
#else
  return false;
#endif
}

void fused_adamw_step(torch::optim::AdamW& optimizer, const std::vector<torch::Tensor>& parameters,
                      std::vector<torch::Tensor>& step_counts) {
#ifdef SIT_FUSED_ADAMW
  TORCH_CHECK(step_counts.size() == parameters.size(), "fused_adamw_step: ", parameters.size(),
              " parameters but ", step_counts.size(), " step slots");
  const auto& options = static_cast<const torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options());
  TORCH_CHECK(!options.amsgrad(), "fused_adamw_step: amsgrad is not supported");
  auto& state = optimizer.state();
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const auto& p = parameters[i];
    if (!p.grad().defined()) continue;
    auto key = parameter_key(state, p);
    if (state.find(key) == state.end()) {
      auto fresh = std::make_unique<torch::optim::AdamWParamState>();
      fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      state[key] = std::move(fresh);
    }
    auto& s = static_cast<torch::optim::AdamWParamState&>(*state[key]);
    if (!step_counts[i].defined()) {
      step_counts[i] = torch::full({}, static_cast<double>(s.step()), p.options().dtype(torch::kFloat32));
    }
    s.step(s.step() + 1);
    params.push_back(p);
    grads.push_back(p.grad());
    exp_avgs.push_back(s.exp_avg());
    exp_avg_sqs.push_back(s.exp_avg_sq());
    steps.push_back(step_counts[i]);
  }
  torch::NoGradGuard no_grad;
  torch::_foreach_add_(steps, 1);
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, options.lr(),
                    std::get<0>(options.betas()), std::get<1>(options.betas()), options.weight_decay(),
                    options.eps(), /*amsgrad=*/false, /*maximize=*/false);
#else
  (void)optimizer;
  (void)parameters;
  (void)step_counts;
  throw std::runtime_error("the fused AdamW kernel needs LibTorch 2.1 or later");
#endif
}

}  // namespace sit::train
