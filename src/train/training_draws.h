#pragma once
// The random draws of the training loss — noise x0, time t and label dropout — made per example
// from a counter-based generator (Philox4x32-10) keyed by (seed, epoch) and streamed by the
// example's dataset index. A batch's draws then do not depend on the batch size, on the rank that
// sees the example nor on the world size (2 ranks at batch B draw exactly what 1 process at batch
// 2B draws for the same examples), and they are made where the model runs: a CUDA kernel draws
// on the GPU the numbers the host loop draws on the CPU, with no host work and no copy.

#include <torch/types.h>

#include <array>
#include <cstdint>

namespace sit::train {

struct TrainingDraws {
  torch::Tensor noise;      // (B, C, H, W) standard normal: x0 of training_losses
  torch::Tensor t_uniform;  // (B,) uniform on [0, 1), mapped onto the training interval by the caller
  torch::Tensor drop;       // (B,) int64, 1 where the label becomes the null class (force_drop_ids)
  /// With interval draws (MeanFlow's (t, r), transport::mean_flow_times), else undefined:
  torch::Tensor interval_normals;   // (B, 2) standard normal
  torch::Tensor interval_uniforms;  // (B,) uniform on [0, 1)
};

/// The draws for the examples `index`: (B,) int64 dataset indices of a batch of epoch `epoch`,
/// each example shaped `shape`, labels dropped with probability class_dropout_prob. Made on
/// `device` (the CPU, or a CUDA device in a CUDA build); float32 noise and times. The interval
/// draws come from a block of their own, so asking for them leaves the others as they are.
TrainingDraws training_draws(uint64_t seed, int64_t epoch, const torch::Tensor& index,
                             std::array<int64_t, 3> shape, double class_dropout_prob,
                             torch::Device device = torch::kCPU, bool interval = false);

}  // namespace sit::train
