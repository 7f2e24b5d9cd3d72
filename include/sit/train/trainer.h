#pragma once
// Trainer: the loop body of the official train.py as a class — a SiT, its EMA, AdamW and the
// transport loss on batches of a data set — with checkpoints that resume a run exactly.

#include <sit/data/data_loader.h>
#include <sit/distributed/gradient_sync.h>
#include <sit/distributed/process_group.h>
#include <sit/nn/precision.h>
#include <sit/nn/sit.h>
#include <sit/repa/encoder.h>
#include <sit/train/lr_schedule.h>
#include <sit/train/phema.h>
#include <sit/train/train_config.h>
#include <sit/transport/sampler.h>
#include <sit/vae/autoencoder_kl.h>

#include <memory>
#include <optional>
#include <string>

namespace sit::train {

/// The configuration saved in a checkpoint's "args" (save_checkpoint's file).
TrainConfig read_checkpoint_config(const std::string& path);

class Trainer {
 public:
  /// A new run (the configuration is validated first): model initialised as the official initialize_weights (seeded by global_seed),
  /// EMA equal to it, AdamW(lr, weight_decay), the data stream at its start. With config.vae the
  /// data are images that each step encodes, and the model works on their latents.
  /// With config.repa, REPA's projector (initialised after the model) trains with the model, and
  /// each step adds repa_proj_coeff times the alignment loss of the encoder's tokens of the images.
  ///
  /// With a process group, this is one rank of a data-parallel run (train.py under DDP): the
  /// weights are broadcast from rank 0, the rank sees its DistributedSampler shard of every epoch
  /// in batches of global_batch_size / world_size, gradients are averaged over the ranks after
  /// every backward, and the default generator is seeded global_seed * world_size + rank. The
  /// loss's noise, times and label dropout are drawn per example (training_draws), so every rank
  /// count takes the same steps on the same global batches, up to the order of float sums.
  ///
  /// With config.optim.phema_sigma_rel, it also tracks power-function EMAs of the model (phema.h),
  /// equal to it at the start, on every rank.
  Trainer(TrainConfig config, std::shared_ptr<const data::Dataset> dataset,
          std::shared_ptr<distributed::ProcessGroup> group = nullptr);

  /// Continues the run saved in `checkpoint` (save_checkpoint's file): weights, EMA, optimizer
  /// moments, step count, random generator and position in the data stream. The trainer must have
  /// been built with the saved configuration (see TrainConfig::resumed_from).
  void resume(const std::string& checkpoint);

  /// One optimisation step on the next batch; returns this rank's mean loss on its part of it.
  ///
  /// A step whose loss or (rank-averaged) gradient is not finite is skipped: no optimizer update,
  /// no EMA update, but its batch is used up and it counts in train_steps(), so the data stream,
  /// the learning-rate schedule and a resume stay those of the run. The power-function EMAs are
  /// updated all the same (with the unchanged weights): their profiles count every step, as a
  /// reconstruction assumes. A rank whose loss is not finite poisons its gradients before the
  /// all-reduce, so every rank skips the same steps. After config.run.max_bad_steps skipped steps
  /// in a row it throws std::runtime_error (the weights are those of the last good step).
  double train_step();

  /// Writes {"model", "ema", "opt", "args", "train_state"} (and "phema" after "ema" when it
  /// tracks power-function EMAs) as torch.save does (atomically): the official sample.py and
  /// torch.load read it, and resume() continues from it. With REPA, "model" also holds the
  /// projector under REPA's names ("projectors.0.0.weight", ...) and "opt" its moments; "ema" is
  /// the SiT's alone.
  void save_checkpoint(const std::string& path) const;

  int64_t train_steps() const { return train_steps_; }
  /// Steps skipped for a non-finite loss or gradient: in all (since construction or resume), and
  /// in a row up to the last step (0: the last step updated the weights).
  int64_t bad_steps() const { return bad_steps_; }
  int64_t consecutive_bad_steps() const { return consecutive_bad_steps_; }
  /// max_steps, or epochs of the data set when max_steps is 0.
  int64_t total_steps() const;
  double current_lr() const;
  const TrainConfig& config() const { return config_; }
  const nn::SiT& model() const { return model_; }
  const nn::SiT& ema() const { return ema_; }
  /// The power-function EMAs; null when config.optim.phema_sigma_rel is empty.
  const PowerFunctionEma* phema() const { return phema_ ? &*phema_ : nullptr; }
  /// REPA's projector (null without REPA) and the last step's alignment loss (0 without REPA).
  const torch::nn::Sequential& projector() const { return projector_; }
  double repa_loss() const { return repa_loss_.defined() ? repa_loss_.item<double>() : 0.0; }
  const torch::Device& device() const { return device_; }
  int64_t rank() const { return group_ ? group_->rank() : 0; }
  int64_t world_size() const { return group_ ? group_->world_size() : 1; }
  /// The VAE of config.vae (null without one), on device().
  const vae::AutoencoderKL& vae() const { return vae_; }

 private:
  TrainConfig config_;
  torch::Device device_;
  nn::Precision precision_;
  std::shared_ptr<const data::Dataset> dataset_;
  std::shared_ptr<distributed::ProcessGroup> group_;  // null: a single process
  std::unique_ptr<distributed::GradientBuckets> gradient_buckets_;
  vae::AutoencoderKL vae_{nullptr};
  std::unique_ptr<data::DataLoader> loader_;
  nn::SiT model_{nullptr};
  nn::SiT ema_{nullptr};
  std::optional<PowerFunctionEma> phema_;
  std::unique_ptr<repa::Encoder> encoder_;  // null without REPA
  torch::nn::Sequential projector_{nullptr};
  torch::Tensor repa_loss_;  // the last step's, detached
  std::vector<torch::Tensor> parameters_;  // model_->parameters(), then projector_'s: the optimizer's order
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  std::vector<torch::Tensor> step_counts_;  // the fused AdamW kernel's step tensors
  transport::Transport transport_;
  LrScheduleOptions lr_schedule_;
  int64_t train_steps_ = 0;
  int64_t bad_steps_ = 0;
  int64_t consecutive_bad_steps_ = 0;
};

}  // namespace sit::train
