#include "nn/cpu_attention.h"
#include "nn/cpu_vector.h"
#include "nn/forward_ad.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#endif

namespace sit::nn {

namespace {

// cblas_sgemm, looked up in the process rather than linked: the BLAS is the one LibTorch loaded.
// None where that is OpenBLAS built on pthreads (openblas_get_parallel() == 1), which warns and
// may hang when called inside an OpenMP loop, as the per-head sgemms are; its OpenMP and serial
// builds (Debian's libopenblas0-openmp, which cmake/install-deps.sh installs) run there on one
// thread.
using Sgemm = void (*)(int layout, int transa, int transb, int m, int n, int k, float alpha, const float* a,
                       int lda, const float* b, int ldb, float beta, float* c, int ldc);
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;  // CBLAS's enumerators

Sgemm blas_sgemm() {
#if defined(__unix__) || defined(__APPLE__)
  static const auto sgemm = []() -> Sgemm {
    void* parallel = dlsym(RTLD_DEFAULT, "openblas_get_parallel");
    if (parallel != nullptr && reinterpret_cast<int (*)()>(parallel)() == 1) return nullptr;
    return reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
  }();
  return sgemm;
#else
  return nullptr;
#endif
}

// Each row of s (rows, cols) to its softmax, in place. The exponentials in a loop of their own,
// which vectorises (an in-order float sum does not).
SIT_CPU_CLONES void softmax_rows(float* s, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * cols;
    float max = row[0];
    for (int64_t j = 1; j < cols; ++j) max = std::max(max, row[j]);
    for (int64_t j = 0; j < cols; ++j) row[j] = cpu::exp_of(row[j] - max);
    float sum = 0;
    for (int64_t j = 0; j < cols; ++j) sum += row[j];
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < cols; ++j) row[j] *= inv;
  }
}

// dp (rows, cols), the gradient of the softmax p, to the gradient of its input:
// ds_ij = p_ij (dp_ij - sum_j p_ij dp_ij), in place.
SIT_CPU_CLONES void softmax_backward_rows(const float* p, float* dp, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* p_row = p + i * cols;
    float* dp_row = dp + i * cols;
    float dot = 0;
    for (int64_t j = 0; j < cols; ++j) dot += p_row[j] * dp_row[j];
    for (int64_t j = 0; j < cols; ++j) dp_row[j] = p_row[j] * (dp_row[j] - dot);
  }
}

// Where sample n's head h lives: q, k and v (T, hd) with rows 3 D apart in the (N, T, 3 D)
// projection (k and v D and 2 D after q), its output and output gradient (T, hd) with rows D apart
// in (N, T, D), its softmax (T, T) at index n heads + h of the saved (N, heads, T, T).
struct HeadLayout {
  int64_t N, T, D, hd, heads;
  float scale;  // 1 / sqrt(hd)
  int t, d, ld_qkv, ld_out;  // the BLAS's ints

  HeadLayout(const torch::Tensor& qkv, int64_t num_heads)
      : N(qkv.size(0)), T(qkv.size(1)), D(qkv.size(2) / 3), hd(D / num_heads), heads(num_heads),
        scale(1.0f / std::sqrt(static_cast<float>(hd))), t(static_cast<int>(T)), d(static_cast<int>(hd)),
        ld_qkv(static_cast<int>(3 * D)), ld_out(static_cast<int>(D)) {}

  int64_t qkv_offset(int64_t nh) const { return nh / heads * T * 3 * D + nh % heads * hd; }
  int64_t out_offset(int64_t nh) const { return nh / heads * T * D + nh % heads * hd; }
};

class CpuAttention : public torch::autograd::Function<CpuAttention> {
 public:
  // qkv (N, T, 3 D) contiguous float32.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv, int64_t heads) {
    const HeadLayout l(qkv, heads);
    auto probs = torch::empty({l.N, heads, l.T, l.T}, qkv.options());
    auto out = torch::empty({l.N, l.T, l.D}, qkv.options());
    const float* qkv_data = qkv.data_ptr<float>();
    float *p_data = probs.data_ptr<float>(), *out_data = out.data_ptr<float>();
    const auto sgemm = blas_sgemm();
    at::parallel_for(0, l.N * heads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t nh = begin; nh < end; ++nh) {
        const float* q = qkv_data + l.qkv_offset(nh);
        const float *k = q + l.D, *v = q + 2 * l.D;
        float* p = p_data + nh * l.T * l.T;
        sgemm(kRowMajor, kNoTrans, kTrans, l.t, l.t, l.d, l.scale, q, l.ld_qkv, k, l.ld_qkv, 0.0f, p, l.t);
        softmax_rows(p, l.T, l.T);
        sgemm(kRowMajor, kNoTrans, kNoTrans, l.t, l.d, l.t, 1.0f, p, l.t, v, l.ld_qkv, 0.0f,
              out_data + l.out_offset(nh), l.ld_out);
      }
    });
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &qkv = saved[0], &probs = saved[1];
    const HeadLayout l(qkv, ctx->saved_data["heads"].toInt());
    const auto dout = grad_outputs[0].contiguous();  // (N, T, D)
    auto dqkv = torch::empty_like(qkv);
    const float *qkv_data = qkv.data_ptr<float>(), *p_data = probs.data_ptr<float>(),
                *dout_data = dout.data_ptr<float>();
    float* dqkv_data = dqkv.data_ptr<float>();
    const auto sgemm = blas_sgemm();
    at::parallel_for(0, l.N * l.heads, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> ds(static_cast<size_t>(l.T * l.T));
      for (int64_t nh = begin; nh < end; ++nh) {
        const float *q = qkv_data + l.qkv_offset(nh), *k = q + l.D, *v = q + 2 * l.D;
        float *dq = dqkv_data + l.qkv_offset(nh), *dk = dq + l.D, *dv = dq + 2 * l.D;
        const float* p = p_data + nh * l.T * l.T;
        const float* dy = dout_data + l.out_offset(nh);
        const int t = l.t, d = l.d, ld = l.ld_qkv, ld_out = l.ld_out;
        sgemm(kRowMajor, kTrans, kNoTrans, t, d, t, 1.0f, p, t, dy, ld_out, 0.0f, dv, ld);          // p^T dy
        sgemm(kRowMajor, kNoTrans, kTrans, t, t, d, 1.0f, dy, ld_out, v, ld, 0.0f, ds.data(), t);  // dy v^T
        softmax_backward_rows(p, ds.data(), l.T, l.T);
        sgemm(kRowMajor, kNoTrans, kNoTrans, t, d, t, l.scale, ds.data(), t, k, ld, 0.0f, dq, ld);  // ds k
        sgemm(kRowMajor, kTrans, kNoTrans, t, d, t, l.scale, ds.data(), t, q, ld, 0.0f, dk, ld);    // ds^T q
      }
    });
    return {dqkv, torch::Tensor()};
  }
};

}  // namespace

bool cpu_attention_applies(const torch::Tensor& qkv) {
  return qkv.is_cpu() && qkv.scalar_type() == torch::kFloat32 && !has_tangent(qkv) && blas_sgemm() != nullptr;
}

torch::Tensor cpu_attention(const torch::Tensor& qkv, int64_t num_heads) {
  TORCH_CHECK(qkv.dim() == 3 && qkv.size(2) % (3 * num_heads) == 0,
              "cpu_attention expects qkv (N, T, 3 D) with D divisible by num_heads ", num_heads, ", but got ",
              qkv.sizes());
  TORCH_CHECK(cpu_attention_applies(qkv), "cpu_attention takes a float32 CPU qkv without a tangent, in a "
              "process whose BLAS has cblas_sgemm");
  return CpuAttention::apply(qkv.contiguous(), num_heads);
}

}  // namespace sit::nn
