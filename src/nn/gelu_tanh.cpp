#include "nn/gelu_tanh.h"
#include "nn/cpu_vector.h"
#include "nn/forward_ad.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>

namespace sit::nn {

namespace {

using cpu::exp_of;
using cpu::load;
using cpu::store;

constexpr float kBeta = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kKappa = 0.044715f;

// y = x s with s = sigmoid(2 u) = 1 / (1 + e^(-2u)).
template <typename Storage>
inline void forward_loop(const Storage* x, Storage* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float xi = load(x, i);
    const float u = kBeta * (xi + kKappa * xi * xi * xi);
    store(y, i, xi / (1.0f + exp_of(-2.0f * u)));
  }
}

// dx = dy (s + 2 x s (1 - s) u'), u' = sqrt(2 / pi) (1 + 3 0.044715 x^2), with 1 - s = e s
// (e = e^(-2u), accurate where s rounds to 1) and -2u capped at 80 (then e s = 1 and the
// derivative, below 1e-32, comes out near 0 without inf times 0).
template <typename Storage>
inline void backward_loop(const Storage* dy, const Storage* x, Storage* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float xi = load(x, i);
    const float u = kBeta * (xi + kKappa * xi * xi * xi);
    const float e = exp_of(std::min(-2.0f * u, 80.0f));
    const float s = 1.0f / (1.0f + e);
    const float du = kBeta * (1.0f + 3.0f * kKappa * xi * xi);
    store(dx, i, load(dy, i) * (s + 2.0f * xi * s * (e * s) * du));
  }
}

// The loops for each storage, each compiled for every target of SIT_CPU_CLONES (which takes no
// templates in Clang).
SIT_CPU_CLONES void forward_f32(const float* x, float* y, int64_t n) { forward_loop(x, y, n); }
SIT_CPU_CLONES void forward_bf16(const uint16_t* x, uint16_t* y, int64_t n) { forward_loop(x, y, n); }
SIT_CPU_CLONES void backward_f32(const float* dy, const float* x, float* dx, int64_t n) {
  backward_loop(dy, x, dx, n);
}
SIT_CPU_CLONES void backward_bf16(const uint16_t* dy, const uint16_t* x, uint16_t* dx, int64_t n) {
  backward_loop(dy, x, dx, n);
}

constexpr int64_t kGrain = 1 << 14;  // elements per task

torch::Tensor forward_kernels(const torch::Tensor& x) {
  auto y = torch::empty_like(x);
  const bool f32 = x.scalar_type() == torch::kFloat32;
  const void* xp = x.data_ptr();
  void* yp = y.data_ptr();
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
    if (f32) {
      forward_f32(static_cast<const float*>(xp) + begin, static_cast<float*>(yp) + begin, end - begin);
    } else {
      forward_bf16(static_cast<const uint16_t*>(xp) + begin, static_cast<uint16_t*>(yp) + begin, end - begin);
    }
  });
  return y;
}

torch::Tensor backward_kernels(const torch::Tensor& dy, const torch::Tensor& x) {
  auto dx = torch::empty_like(x);
  const bool f32 = x.scalar_type() == torch::kFloat32;
  const void *dyp = dy.data_ptr(), *xp = x.data_ptr();
  void* dxp = dx.data_ptr();
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
    if (f32) {
      backward_f32(static_cast<const float*>(dyp) + begin, static_cast<const float*>(xp) + begin,
                   static_cast<float*>(dxp) + begin, end - begin);
    } else {
      backward_bf16(static_cast<const uint16_t*>(dyp) + begin, static_cast<const uint16_t*>(xp) + begin,
                    static_cast<uint16_t*>(dxp) + begin, end - begin);
    }
  });
  return dx;
}

class GeluTanh : public torch::autograd::Function<GeluTanh> {
 public:
  // x contiguous float32 or bfloat16 on the CPU.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    ctx->save_for_backward({x});
    return forward_kernels(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto x = ctx->get_saved_variables()[0];
    return {backward_kernels(grad_outputs[0].to(x.scalar_type()).contiguous(), x)};
  }
};

}  // namespace

torch::Tensor gelu_tanh(const torch::Tensor& x) {
  const bool kernel = x.is_cpu() && (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kBFloat16);
  if (!kernel || has_tangent(x)) return torch::gelu(x, "tanh");
  return GeluTanh::apply(x.contiguous());
}

}  // namespace sit::nn
