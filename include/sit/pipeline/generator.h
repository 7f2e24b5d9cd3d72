#pragma once
// Generator: samples of a trained SiT in one call, as the official sample.py and sample_ddp.py
// make them, from any checkpoint the programs read (a sit-train checkpoint, its ema.safetensors,
// an official train.py checkpoint, a bare state dict) with the VAE that turns latents into images.
//
//   sit::Generator generator("SiT-XL-2-256x256.pt", sit::GeneratorOptions().vae({"ema"}).device(torch::kCUDA));
//   auto out = generator.generate(torch::tensor({207, 360, 387}), sit::Draws().seed(0));
//   sit::image::save_image("sample.png", out.samples);
//
// The architecture and transport come from what the checkpoint holds (sit-train's configuration,
// train.py's args, the weights' shapes); what the options claim about them is checked against it,
// and a contradiction is a config::ConfigError naming both values. Sample i of a seed is the same
// whatever batch, batch size, rank or world size draws it (pipeline/sample_draws: a Philox stream
// per sample), on the CPU and on CUDA.

#include <sit/nn/precision.h>
#include <sit/nn/sit.h>
#include <sit/transport/guidance.h>
#include <sit/transport/guidance.h>
#include <sit/transport/sampler.h>
#include <sit/transport/transport.h>
#include <sit/vae/autoencoder_kl.h>
#include <sit/vae/vae_from_state_dict.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace sit {

/// How a Generator reads its checkpoint and samples.
struct GeneratorOptions {
  /// The entry of a train.py checkpoint: "ema" or "model".
  TORCH_ARG(std::string, ckpt_entry) = "ema";
  /// What the caller knows of the checkpoint, each checked against what it holds (and taken where
  /// it holds nothing). num_heads is needed where nothing says it: a bare state dict, or a fork's
  /// train.py model name, whose width is not a preset's.
  TORCH_ARG(std::optional<std::string>, model) = std::nullopt;  // a preset
  TORCH_ARG(std::optional<int64_t>, num_heads) = std::nullopt;
  TORCH_ARG(std::optional<int64_t>, num_classes) = std::nullopt;
  TORCH_ARG(std::optional<int64_t>, image_size) = std::nullopt;  // pixels (8 x a latent model's input)
  TORCH_ARG(std::optional<transport::PathType>, path_type) = std::nullopt;     // default Linear
  TORCH_ARG(std::optional<transport::ModelType>, prediction) = std::nullopt;  // default velocity
  /// Replaces the checkpoint's sampling interval margin (train_eps and the loss weight do not
  /// change sampling).
  TORCH_ARG(std::optional<double>, sample_eps) = std::nullopt;
  /// How to sample: sample.py's ODE or SDE settings and classifier-free guidance.
  TORCH_ARG(transport::SamplerOptions, sampler) = {};
  TORCH_ARG(transport::GuidanceOptions, guidance) = {};
  /// Autoguidance: a weaker checkpoint of the same data guides instead of the null label.
  TORCH_ARG(std::string, guide_ckpt) = "";
  /// The VAE that decodes latents into images, and its batch slices: path "ema" or "mse"
  /// (sd-vae-ft-ema/-mse in models_dir, as sample.py), a diffusers folder or a weights file (its
  /// config.json beside it, or config, else SD-VAE's). No path: none, and a latent model's samples
  /// stay latents.
  TORCH_ARG(vae::VaeConfig, vae) = {};
  /// Where "ema" and "mse" are looked up; "": $SIT_MODELS_DIR, else pretrained_models.
  TORCH_ARG(std::string, models_dir) = "";
  TORCH_ARG(torch::Device, device) = torch::kCPU;
  TORCH_ARG(nn::Precision, precision) = nn::Precision::FP32;
  /// Samples per sampler run.
  TORCH_ARG(int64_t, batch_size) = 64;
};

/// The models folder of `options`: models_dir, else $SIT_MODELS_DIR, else pretrained_models.
std::string models_dir(const GeneratorOptions& options);

/// Where a generation's randomness comes from.
struct Draws {
  TORCH_ARG(uint64_t, seed) = 0;
  /// The index of the first sample in the seed's sequence (a rank's share begins further on).
  TORCH_ARG(int64_t, first) = 0;
  /// (N, C, H, W): the initial noise itself, instead of the seed's.
  TORCH_ARG(torch::Tensor, noise) = {};
  /// (steps, rows, C, H, W): the SDE's draws replayed (one batch: N <= batch_size), as a
  /// fixture's sde_noise.npy, instead of the seed's.
  TORCH_ARG(torch::Tensor, sde_noise) = {};
};

/// Called after each batch with the samples done and the total; returning false cancels the
/// generation, which then throws Cancelled.
using Progress = std::function<bool(int64_t done, int64_t total)>;

class Cancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Generation {
  /// (N, C, H, W) float32 on the CPU: images in [-1, 1] when decoded by the VAE (or of a pixel
  /// model), else the model's latents.
  torch::Tensor samples;
  torch::Tensor latents;  // with a VAE: what it decoded; else undefined
  torch::Tensor labels;   // (N,) int64
  int64_t model_evaluations = 0;
};

/// The labelled model a sampler calls: SiT::forward (without the learned-sigma half), its output
/// in the state's dtype (bf16 under autocast, the state fp32).
transport::LabelledForward labelled_forward(const nn::SiT& model);

class Generator {
 public:
  /// Reads `checkpoint` (and the guide and VAE of `options`), checks the options against it and
  /// moves the models to options.device().
  explicit Generator(const std::string& checkpoint, GeneratorOptions options = {});
  /// Samples a model in memory (e.g. a trainer's EMA) trained with `transport`; `vae` may be null.
  Generator(nn::SiT model, transport::TransportOptions transport, vae::AutoencoderKL vae, GeneratorOptions options);

  /// Decodes with this VAE from now on (as options.vae()): e.g. sample.py's default "mse" for a
  /// latent model asked for images.
  void load_vae(const vae::VaeConfig& vae);

  /// Samples for `labels` (N,) int64 in [0, num_classes), in batches of batch_size.
  Generation generate(const torch::Tensor& labels, const Draws& draws = {}, const Progress& progress = nullptr) const;
  /// n labels cycling through the classes: 0, 1, ..., num_classes - 1, 0, ...
  torch::Tensor balanced_labels(int64_t n) const;
  /// The log-likelihood of data x (N, C, H, W) of classes `labels` under the probability-flow ODE
  /// (the ODE settings of the sampler; no guidance).
  transport::LikelihoodResult log_likelihood(const torch::Tensor& x, const torch::Tensor& labels) const;
  /// Throws std::invalid_argument unless x is (n, C, H, W) as the model takes it: the check that
  /// generate() makes of given noise and log_likelihood() of its data.
  void check_input(const torch::Tensor& x, int64_t n) const;

  const nn::SiTOptions& architecture() const { return model_->options; }
  const transport::TransportOptions& transport() const { return transport_; }
  const GeneratorOptions& options() const { return options_; }
  /// A model of SD-VAE latents rather than of images (neither 1 nor 3 channels).
  bool latent_space() const;
  const nn::SiT& model() const { return model_; }
  const vae::AutoencoderKL& vae() const { return vae_; }

 private:
  void check_settings() const;
  torch::Tensor decode(const torch::Tensor& latents) const;

  GeneratorOptions options_;
  nn::SiT model_{nullptr};
  nn::SiT guide_{nullptr};
  vae::AutoencoderKL vae_{nullptr};
  transport::TransportOptions transport_;
};

}  // namespace sit
