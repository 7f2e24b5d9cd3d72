#pragma once
// A training step captured once and replayed from a CUDA graph: forward under autocast, the
// transport loss, backward, a non-finite check, fused AdamW and the EMA as one graph launch. At a
// small batch a step is thousands of short kernels whose launch cost dominates the GPU time; the
// graph launches them all at once. Trainer::train_step's arithmetic, with what needs the host
// (the data, the draws, counting skipped steps) left to the caller. Not in it: gradient clipping
// (Trainer's clip_grad_norm_ reads the norm on the host), a multi-rank run's all-reduce, the
// VAE's encode, and checkpoints (the moments and step counts live in the graph's state only).

#include <sit/nn/precision.h>
#include <sit/nn/sit.h>
#include <sit/transport/transport.h>

#include <torch/optim/adamw.h>

#include <memory>

namespace sit::train {

/// The settings a graph bakes in: the batch size (the static shapes follow from it and the
/// model), AdamW's betas, eps and weight decay (its lr stays settable, see set_lr), the EMA's
/// decay and the precision of the forward.
struct GraphedTrainingStepOptions {
  explicit GraphedTrainingStepOptions(int64_t batch_size) : batch_size_(batch_size) {}
  TORCH_ARG(int64_t, batch_size);
  TORCH_ARG(torch::optim::AdamWOptions, adamw) = torch::optim::AdamWOptions(1e-4);
  TORCH_ARG(double, ema_decay) = 0.9999;
  TORCH_ARG(nn::Precision, precision) = nn::Precision::FP32;
};

/// The inputs of one step, as Trainer::train_step hands them to training_losses: on any device,
/// copied into the graph's buffers.
struct TrainingBatch {
  torch::Tensor x;     // (B, C, H, W) data (latents under a VAE)
  torch::Tensor y;     // (B,) int64 labels
  torch::Tensor x0;    // (B, C, H, W) noise
  torch::Tensor t;     // (B,) times on the transport's training interval
  torch::Tensor drop;  // (B,) int64, 1 where the label is dropped; undefined when the model has no class dropout
};

/// What a replay writes: 0-dim float32 tensors on the model's device, overwritten by the next
/// step (reading them is a host synchronisation).
struct GraphedStepOutputs {
  torch::Tensor loss;       // the batch's mean loss
  torch::Tensor found_inf;  // 1 where the loss or a gradient was not finite and the step was skipped, else 0
};

class GraphedTrainingStep {
 public:
  /// Whether this build can (a CUDA build of LibTorch 2.2 or later: graphs, and the fused AdamW
  /// kernel with a tensor learning rate).
  static bool available();

  /// Warms the step up on a side stream and captures it. `model` (in training mode) and `ema`
  /// must be on one CUDA device; their weights, and AdamW's moments (zero) and step counts (0),
  /// are where the first step starts from: warm-up runs every kernel with the update switched
  /// off. From here on the graph owns the model's gradients (static buffers that each replay
  /// writes; do not reset them). Throws where available() is false.
  GraphedTrainingStep(nn::SiT model, nn::SiT ema, transport::Transport transport,
                      GraphedTrainingStepOptions options);
  ~GraphedTrainingStep();
  GraphedTrainingStep(const GraphedTrainingStep&) = delete;
  GraphedTrainingStep& operator=(const GraphedTrainingStep&) = delete;

  /// One step on `batch` (shaped as the options and the model say): copies it in and replays.
  /// Asynchronous: nothing waits for the GPU. A step whose loss or gradients are not finite
  /// leaves the weights, moments, step counts and EMA as they were (found_inf says so).
  const GraphedStepOutputs& step(const TrainingBatch& batch);

  /// The learning rate of the following steps: it lives in a device tensor the graph reads, so a
  /// schedule needs no recapture.
  void set_lr(double lr);

 private:
  struct Captured;
  std::unique_ptr<Captured> captured_;
};

}  // namespace sit::train
