#include <sit/nn/mlp.h>
#include "nn/fused_linear.h"
#include "nn/gelu_tanh.h"

#include <torch/version.h>

// The GELU epilogue below: a CUDA build of LibTorch 2.4 or later (autocast's per-device queries).
#if defined(SIT_WITH_CUDA) && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
#define SIT_GELU_EPILOGUE 1
#include <ATen/autocast_mode.h>
#endif

namespace sit::nn {

MlpImpl::MlpImpl(MlpOptions options_) : options(std::move(options_)) { reset(); }

void MlpImpl::reset() {
  fc1 = register_module("fc1", torch::nn::Linear(options.in_features(), options.hidden_features()));
  fc2 = register_module("fc2", torch::nn::Linear(options.hidden_features(), options.in_features()));
}

void MlpImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::Mlp(in_features=" << options.in_features()
         << ", hidden_features=" << options.hidden_features() << ")";
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
#ifdef SIT_GELU_EPILOGUE
  // Inference on a GPU (the samplers): fc1's bias and the tanh GELU in cuBLASLt's matmul epilogue,
  // one pass less over the (N, T, 4 D) hidden activations. _addmm_activation has no backward and is
  // not on autocast's list, so it is taken only without gradients, with autocast's cast made here.
  if (x.is_cuda() && !torch::GradMode::is_enabled()) {
    const bool autocast = at::autocast::is_autocast_enabled(at::kCUDA);
    auto cast = [&](const torch::Tensor& tensor) {
      return autocast ? at::autocast::cached_cast(at::autocast::get_autocast_dtype(at::kCUDA), tensor, at::kCUDA)
                      : tensor;
    };
    auto x2d = cast(x).reshape({-1, x.size(-1)});  // (N T, D)
    auto hidden = at::_addmm_activation(cast(fc1->bias), x2d, cast(fc1->weight).t(), 1, 1, /*use_gelu=*/true);
    auto shape = x.sizes().vec();
    shape.back() = hidden.size(1);
    return fused_linear(fc2, hidden.view(shape));  // (N, T, D)
  }
#endif
  return fused_linear(fc2, gelu_tanh(fused_linear(fc1, x)));
}

}  // namespace sit::nn
