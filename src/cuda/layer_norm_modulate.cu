// layer_norm_modulate on the GPU. Forward: one thread block per row, two block reductions (mean,
// then the centred sum of squares, as the CPU kernel does). Backward: a block per run of rows of
// one sample; each thread owns a fixed set of columns, so its dshift and dgnale partial sums stay
// in shared memory without synchronisation and go to global memory with one atomic add per column.

#include "cuda/check.h"
#include "cuda/launch.h"

namespace sit::cuda {

namespace {

constexpr int kThreads = 256;  // a multiple of the warp size
constexpr int kRowsPerBlock = 16;

// The sum of `value` over the block, returned to every thread. `scratch` holds a float per warp.
__device__ float block_sum(float value, float* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // scratch may still be read by the previous call
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  value = lane < blockDim.x / 32 ? scratch[lane] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__global__ void forward_kernel(const float* x, const float* shift, const float* gain, int64_t T, int64_t D,
                               float eps, float* y, float* mean, float* rstd) {
  __shared__ float scratch[32];
  const int64_t r = blockIdx.x, n = r / T;
  const float* xr = x + r * D;
  float sum = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) sum += xr[d];
  const float mu = block_sum(sum, scratch) / static_cast<float>(D);
  float squares = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) squares += (xr[d] - mu) * (xr[d] - mu);
  const float inv = rsqrtf(block_sum(squares, scratch) / static_cast<float>(D) + eps);
  const float *sh = shift + n * D, *gn = gain + n * D;
  float* yr = y + r * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) yr[d] = (xr[d] - mu) * inv * gn[d] + sh[d];
  if (threadIdx.x == 0) {
    mean[r] = mu;
    rstd[r] = inv;
  }
}

// Block (n, chunk): rows chunk * kRowsPerBlock .. of sample n. Dynamic shared memory: 2 D floats.
__global__ void backward_kernel(const float* dy, const float* x, const float* gain, const float* mean,
                                const float* rstd, int64_t T, int64_t D, float* dx, float* dshift, float* dgnale) {
  extern __shared__ float partial[];  // [dshift (D), dgnale (D)]
  __shared__ float scratch[32];
  const int64_t n = blockIdx.x;
  const int64_t first = n * T + static_cast<int64_t>(blockIdx.y) * kRowsPerBlock;
  const int64_t last = min(first + kRowsPerBlock, (n + 1) * T);
  const float* gn = gain + n * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) partial[d] = partial[D + d] = 0.0f;
  for (int64_t r = first; r < last; ++r) {
    const float *xr = x + r * D, *dyr = dy + r * D;
    const float mu = mean[r], inv = rstd[r];
    float sum_g = 0, sum_gx = 0;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      const float xhat = (xr[d] - mu) * inv, g = dyr[d] * gn[d];
      sum_g += g;
      sum_gx += g * xhat;
      partial[d] += dyr[d];
      partial[D + d] += dyr[d] * xhat;
    }
    const float mean_g = block_sum(sum_g, scratch) / static_cast<float>(D);
    const float mean_gx = block_sum(sum_gx, scratch) / static_cast<float>(D);
    float* dxr = dx + r * D;
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      const float xhat = (xr[d] - mu) * inv;
      dxr[d] = inv * (dyr[d] * gn[d] - mean_g - xhat * mean_gx);
    }
  }
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    atomicAdd(dshift + n * D + d, partial[d]);
    atomicAdd(dgnale + n * D + d, partial[D + d]);
  }
}

}  // namespace

void launch_layer_norm_modulate_forward(const float* x, const float* shift, const float* gain, int64_t N,
                                        int64_t T, int64_t D, float eps, float* y, float* mean, float* rstd,
                                        cudaStream_t stream) {
  if (N * T == 0) return;
  forward_kernel<<<static_cast<unsigned>(N * T), kThreads, 0, stream>>>(x, shift, gain, T, D, eps, y, mean, rstd);
  check_launch("layer_norm_modulate forward");
}

void launch_layer_norm_modulate_backward(const float* dy, const float* x, const float* gain, const float* mean,
                                         const float* rstd, int64_t N, int64_t T, int64_t D, float* dx,
                                         float* dshift, float* dgnale, cudaStream_t stream) {
  // The blocks add their partial sums into dshift and dgnale.
  cudaMemsetAsync(dshift, 0, sizeof(float) * N * D, stream);
  cudaMemsetAsync(dgnale, 0, sizeof(float) * N * D, stream);
  if (N * T == 0) return;
  const dim3 grid(static_cast<unsigned>(N), static_cast<unsigned>((T + kRowsPerBlock - 1) / kRowsPerBlock));
  backward_kernel<<<grid, kThreads, 2 * D * sizeof(float), stream>>>(dy, x, gain, mean, rstd, T, D, dx, dshift,
                                                                     dgnale);
  check_launch("layer_norm_modulate backward");
}

}  // namespace sit::cuda
