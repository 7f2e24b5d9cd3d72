#pragma once
// The host-side launchers of sit's CUDA kernels (src/cuda/*.cu). They take raw device pointers
// and the stream to run on, so that the .cu files need no LibTorch headers; the callers in the
// library check shapes, dtypes and devices and pass at::cuda::getCurrentCUDAStream(). Declared
// only in CUDA builds (SIT_WITH_CUDA).

#include <cuda_runtime_api.h>

#include <cstdint>

namespace sit::cuda {

/// training_draws on the device: for each of `batch` examples `index[i]`, `numel` noise values
/// into noise[i * numel ...], the time uniform into t[i], the dropout flag into drop[i] and, where
/// interval_normals is not null, MeanFlow's draws into interval_normals[2 i, 2 i + 1] and
/// interval_uniforms[i].
void launch_training_draws(const int64_t* index, int64_t batch, int64_t numel, uint64_t key,
                           float drop_prob, float* noise, float* t, int64_t* drop, float* interval_normals,
                           float* interval_uniforms, cudaStream_t stream);

/// The widest rows layer_norm_modulate's backward kernel takes: its per-column partial sums fill
/// 2 D floats of a block's 48 KiB of shared memory.
constexpr int64_t kMaxLayerNormModulateWidth = 6144;

/// layer_norm_modulate's forward: x (N T, D) row-normalised, then y = xhat gain + shift with
/// shift and gain = 1 + scale (N, D) per sample; each row's mean and 1 / std are saved for the
/// backward.
void launch_layer_norm_modulate_forward(const float* x, const float* shift, const float* gain, int64_t N,
                                        int64_t T, int64_t D, float eps, float* y, float* mean, float* rstd,
                                        cudaStream_t stream);

/// Its backward: dx (N T, D) and the per-sample dshift, dgnale (N, D).
void launch_layer_norm_modulate_backward(const float* dy, const float* x, const float* gain, const float* mean,
                                         const float* rstd, int64_t N, int64_t T, int64_t D, float* dx,
                                         float* dshift, float* dgnale, cudaStream_t stream);

}  // namespace sit::cuda
