#include "nn/layer_norm_modulate.h"
#include "nn/forward_ad.h"
#include "nn/modulate.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

#ifdef SIT_WITH_CUDA
#include "cuda/launch.h"

#include <ATen/cuda/CUDAContext.h>
#endif

namespace sit::nn {

namespace {

// On the CPU only where gradients are wanted: there the fused backward made the 28x28 training
// step 1.11x faster, while in inference (a guided sampler run) ATen's vectorised layer_norm then
// addcmul beat the fused forward loop (0.95x; side_by_side.py --sit-baseline, 3 rounds).
bool fused_kernel_for(const torch::Tensor& x, bool wants_gradients) {
  if (x.scalar_type() != torch::kFloat32) return false;
#ifdef SIT_WITH_CUDA
  if (x.is_cuda()) return x.size(2) <= cuda::kMaxLayerNormModulateWidth;
#endif
  return x.is_cpu() && wants_gradients;
}

// The CPU kernels: y = xhat gain + shift, with gain = 1 + scale; row r of x (N T, D) belongs to
// sample r / T.
void forward_cpu(const float* x, const float* shift, const float* gain, int64_t N, int64_t T, int64_t D,
                 float eps, float* y, float* mean, float* rstd) {
  at::parallel_for(0, N * T, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * D;
      const float *sh = shift + (r / T) * D, *gn = gain + (r / T) * D;
      double sum = 0;
      for (int64_t d = 0; d < D; ++d) sum += xr[d];
      const auto mu = static_cast<float>(sum / static_cast<double>(D));
      double squares = 0;
      for (int64_t d = 0; d < D; ++d) squares += static_cast<double>((xr[d] - mu) * (xr[d] - mu));
      const auto inv = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(D) + eps));
      float* yr = y + r * D;
      for (int64_t d = 0; d < D; ++d) yr[d] = (xr[d] - mu) * inv * gn[d] + sh[d];
      mean[r] = mu;
      rstd[r] = inv;
    }
  });
}

// dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gain; dshift = sum over T of dy,
// dgain = sum over T of dy xhat. Parallel over samples, which own their dshift and dgain rows.
void backward_cpu(const float* dy, const float* x, const float* gain, const float* mean, const float* rstd,
                  int64_t N, int64_t T, int64_t D, float* dx, float* dshift, float* dgain) {
  at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* gn = gain + n * D;
      float *dsh = dshift + n * D, *dgn = dgain + n * D;
      std::fill(dsh, dsh + D, 0.0f);
      std::fill(dgn, dgn + D, 0.0f);
      for (int64_t r = n * T; r < (n + 1) * T; ++r) {
        const float *xr = x + r * D, *dyr = dy + r * D;
        const float mu = mean[r], inv = rstd[r];
        double sum_g = 0, sum_gx = 0;
        for (int64_t d = 0; d < D; ++d) {
          const float xhat = (xr[d] - mu) * inv, g = dyr[d] * gn[d];
          sum_g += g;
          sum_gx += static_cast<double>(g * xhat);
          dsh[d] += dyr[d];
          dgn[d] += dyr[d] * xhat;
        }
        const auto mean_g = static_cast<float>(sum_g / static_cast<double>(D));
        const auto mean_gx = static_cast<float>(sum_gx / static_cast<double>(D));
        float* dxr = dx + r * D;
        for (int64_t d = 0; d < D; ++d) {
          const float xhat = (xr[d] - mu) * inv;
          dxr[d] = inv * (dyr[d] * gn[d] - mean_g - xhat * mean_gx);
        }
      }
    }
  });
}

class LayerNormModulate : public torch::autograd::Function<LayerNormModulate> {
 public:
  // x (N, T, D), shift and gain (N, D), all contiguous float32 on one device.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& shift, const torch::Tensor& gain, double eps) {
    const int64_t N = x.size(0), T = x.size(1), D = x.size(2);
    auto y = torch::empty_like(x);
    auto mean = torch::empty({N, T}, x.options()), rstd = torch::empty({N, T}, x.options());
    if (x.is_cuda()) {
#ifdef SIT_WITH_CUDA
      cuda::launch_layer_norm_modulate_forward(x.data_ptr<float>(), shift.data_ptr<float>(), gain.data_ptr<float>(),
                                               N, T, D, static_cast<float>(eps), y.data_ptr<float>(),
                                               mean.data_ptr<float>(), rstd.data_ptr<float>(),
                                               at::cuda::getCurrentCUDAStream(x.device().index()));
#endif
    } else {
      forward_cpu(x.data_ptr<float>(), shift.data_ptr<float>(), gain.data_ptr<float>(), N, T, D,
                  static_cast<float>(eps), y.data_ptr<float>(), mean.data_ptr<float>(), rstd.data_ptr<float>());
    }
    ctx->save_for_backward({x, gain, mean, rstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &gain = saved[1], &mean = saved[2], &rstd = saved[3];
    const auto dy = grad_outputs[0].contiguous();
    const int64_t N = x.size(0), T = x.size(1), D = x.size(2);
    auto dx = torch::empty_like(x);
    auto dshift = torch::empty_like(gain), dgain = torch::empty_like(gain);
    if (x.is_cuda()) {
#ifdef SIT_WITH_CUDA
      cuda::launch_layer_norm_modulate_backward(dy.data_ptr<float>(), x.data_ptr<float>(), gain.data_ptr<float>(),
                                                mean.data_ptr<float>(), rstd.data_ptr<float>(), N, T, D,
                                                dx.data_ptr<float>(), dshift.data_ptr<float>(),
                                                dgain.data_ptr<float>(),
                                                at::cuda::getCurrentCUDAStream(x.device().index()));
#endif
    } else {
      backward_cpu(dy.data_ptr<float>(), x.data_ptr<float>(), gain.data_ptr<float>(), mean.data_ptr<float>(),
                   rstd.data_ptr<float>(), N, T, D, dx.data_ptr<float>(), dshift.data_ptr<float>(),
                   dgain.data_ptr<float>());
    }
    return {dx, dshift, dgain, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor layer_norm_modulate(const torch::Tensor& x, const torch::Tensor& shift,
                                  const torch::Tensor& scale, double eps) {
  TORCH_CHECK(x.dim() == 3 && shift.dim() == 2 && shift.sizes() == scale.sizes() &&
                  shift.size(0) == x.size(0) && shift.size(1) == x.size(2),
              "layer_norm_modulate expects x (N, T, D) with shift and scale (N, D), but got x ", x.sizes(),
              ", shift ", shift.sizes(), " and scale ", scale.sizes());
  const bool wants_gradients =
      torch::GradMode::is_enabled() && (x.requires_grad() || shift.requires_grad() || scale.requires_grad());
  const bool tangents = has_tangent(x) || has_tangent(shift) || has_tangent(scale);  // no jvp in the kernels
  if (tangents || !fused_kernel_for(x, wants_gradients)) {
    return modulate(torch::layer_norm(x, {x.size(2)}, {}, {}, eps), shift, scale);
  }
  // 1 + scale in scale's dtype and then shift and the gain as float32 (from a bf16 linear under
  // autocast), as modulate's addcmul computes and promotes them; autograd returns their gradients
  // in their dtypes.
  return LayerNormModulate::apply(x.contiguous(), shift.to(x.options()).contiguous(),
                                  (1 + scale).to(x.options()).contiguous(), eps);
}

}  // namespace sit::nn
