#pragma once
// Everything a training run is made of, as the official train.py's flags plus what a C++ run
// adds. It is saved in every checkpoint (under "args") so a run can be resumed and read back.

#include <cstdint>
#include <optional>
#include <string>

namespace sit::train {

struct TrainConfig {
  // Model: a preset ("SiT-S/2", ...) or, when empty, the free dimensions below.
  std::string model = "SiT-XL/2";
  int64_t patch_size = 2;
  int64_t depth = 28;
  int64_t hidden_size = 1152;
  int64_t num_heads = 16;
  double mlp_ratio = 4.0;
  double class_dropout_prob = 0.1;
  bool learn_sigma = true;

  // Data: "fashion-mnist", "folder" (ImageNet layout) or "latents" (pre-extracted .npy shards).
  std::string data = "fashion-mnist";
  std::string data_path;     // empty: the data set's default location
  int64_t image_size = 0;    // 0: the data's own size (folders need one)
  int64_t num_classes = 0;   // 0: the data's own count
  int64_t num_workers = 2;   // loader threads
  // Train in the latent space of this VAE (weights file or diffusers folder, see load_vae): each
  // image batch becomes vae.encode(x).latent_dist.sample() * scaling_factor, as train.py does.
  std::string vae;
  // Latent shards holding posteriors: draw mean + std * eps each time (REPA), or take the mean
  // (fast-DiT).
  bool sample_posterior = true;

  // Transport (create_transport).
  std::string path_type = "Linear";
  std::string prediction = "velocity";
  std::string loss_weight = "None";
  std::optional<double> train_eps;
  std::optional<double> sample_eps;

  // Optimisation: AdamW on the weights, an EMA of them.
  int64_t global_batch_size = 256;
  int64_t epochs = 1400;
  int64_t max_steps = 0;  // 0: no limit but epochs
  uint64_t global_seed = 0;
  double lr = 1e-4;
  std::string lr_schedule = "constant";  // or "cosine" (to min_lr at the run's last step)
  int64_t warmup_steps = 0;
  double min_lr = 0.0;
  double weight_decay = 0.0;
  double ema_decay = 0.9999;
  double grad_clip = 0.0;  // max gradient norm; 0: no clipping

  // Logging, checkpoints and sample grids (of the EMA model, ODE sampler).
  std::string results_dir = "results";
  int64_t log_every = 100;
  int64_t ckpt_every = 50000;
  int64_t sample_every = 10000;
  double cfg_scale = 4.0;
  int64_t sample_steps = 50;           // ODE grid points of the sample grids
  std::string sample_method = "heun2";

  std::string device = "cpu";
  std::string precision = "fp32";  // fp32, tf32 or bf16 (autocast; fp32 master weights)

  /// The configuration as a JSON object (every field; unset eps as null).
  std::string to_json() const;
  /// Reads to_json's output; fields it lacks keep their defaults, unknown fields are an error.
  static TrainConfig from_json(const std::string& json);

  /// The run a resume continues: model, data, transport and optimisation from `saved`; the
  /// run's length, cadence, output and device from this configuration (the command line).
  TrainConfig resumed_from(const TrainConfig& saved) const;
};

}  // namespace sit::train
