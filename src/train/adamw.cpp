#include "train/adamw.h"
#include <sit/error.h>

#include <ATen/Parallel.h>

#include <cmath>
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

namespace {

const torch::optim::AdamWOptions& single_group_options(const torch::optim::AdamW& optimizer, const char* caller) {
  TORCH_CHECK(optimizer.param_groups().size() == 1, caller, ": one parameter group is supported, not ",
              optimizer.param_groups().size());
  const auto& options = static_cast<const torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options());
  TORCH_CHECK(!options.amsgrad(), caller, ": amsgrad is not supported");
  return options;
}

/// The state of `p` in the optimizer, made on first use as torch::optim::AdamW makes it, its step
/// advanced by one.
torch::optim::AdamWParamState& advance_state(torch::optim::AdamW& optimizer, const torch::Tensor& p) {
  auto& state = optimizer.state();
  auto key = parameter_key(state, p);
  if (state.find(key) == state.end()) {
    auto fresh = std::make_unique<torch::optim::AdamWParamState>();
    fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    state[key] = std::move(fresh);
  }
  auto& s = static_cast<torch::optim::AdamWParamState&>(*state[key]);
  s.step(s.step() + 1);
  return s;
}

}  // namespace

void fused_adamw_step(torch::optim::AdamW& optimizer, const std::vector<torch::Tensor>& parameters,
                      std::vector<torch::Tensor>& step_counts) {
#ifdef SIT_FUSED_ADAMW
  TORCH_CHECK(step_counts.size() == parameters.size(), "fused_adamw_step: ", parameters.size(),
              " parameters but ", step_counts.size(), " step slots");
  const auto& options = single_group_options(optimizer, "fused_adamw_step");
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const auto& p = parameters[i];
    if (!p.grad().defined()) continue;
    auto& s = advance_state(optimizer, p);
    if (!step_counts[i].defined()) {  // the kernel advances its own copy of the step below
      step_counts[i] = torch::full({}, static_cast<double>(s.step() - 1), p.options().dtype(torch::kFloat32));
    }
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
  throw UnsupportedError("the fused AdamW kernel needs LibTorch 2.1 or later");
#endif
}

void cpu_adamw_step(torch::optim::AdamW& optimizer, const std::vector<torch::Tensor>& parameters) {
  const auto& options = single_group_options(optimizer, "cpu_adamw_step");
  const double lr = options.lr(), beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    const auto& g = p.grad();
    TORCH_CHECK(p.device().is_cpu() && p.scalar_type() == torch::kFloat32 && p.is_contiguous() &&
                    g.scalar_type() == torch::kFloat32 && g.is_contiguous(),
                "cpu_adamw_step: parameters and gradients must be contiguous float32 CPU tensors");
    auto& s = advance_state(optimizer, p);
    // torch::optim::AdamW's scalars, as its elementwise operations take them (float for float tensors)
    const float decay = static_cast<float>(1 - lr * options.weight_decay());
    const float keep1 = static_cast<float>(beta1), add1 = static_cast<float>(1 - beta1);
    const float keep2 = static_cast<float>(beta2), add2 = static_cast<float>(1 - beta2);
    const float sqrt_bias2 = static_cast<float>(std::sqrt(1 - std::pow(beta2, s.step())));
    const float eps = static_cast<float>(options.eps());
    const float step_size = static_cast<float>(-lr / (1 - std::pow(beta1, s.step())));
    const bool decays = options.weight_decay() != 0;
    float* w = p.data_ptr<float>();
    const float* grad = g.data_ptr<float>();
    float* m = s.exp_avg().data_ptr<float>();
    float* v = s.exp_avg_sq().data_ptr<float>();
    at::parallel_for(0, p.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float w_i = decays ? w[i] * decay : w[i];      // p.mul_(1 - lr * wd)
        const float m_i = m[i] * keep1 + add1 * grad[i];       // exp_avg.mul_(b1).add_(g, 1 - b1)
        const float v_i = v[i] * keep2 + add2 * grad[i] * grad[i];  // exp_avg_sq.mul_(b2).addcmul_(g, g, 1 - b2)
        const float denom = std::sqrt(v_i) / sqrt_bias2 + eps;
        w[i] = w_i + step_size * (m_i / denom);                // p.addcdiv_(exp_avg, denom, -step_size)
        m[i] = m_i;
        v[i] = v_i;
      }
    });
  }
}

}  // namespace sit::train
