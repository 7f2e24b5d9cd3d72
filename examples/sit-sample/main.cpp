// sit-sample: noise to samples with a SiT checkpoint, the official sample.py in C++.
//
//   sit-sample ODE --ckpt SiT-XL-2-256.pt --num-sampling-steps 50 --out samples.png
//   sit-sample SDE --ckpt ckpt.pt --noise z.npy --labels y.npy --sde-noise w.npy --out-npy x.npy
//   torchrun --no-python --nproc_per_node=8 sit-sample ODE --ckpt ckpt.pt --num-samples 50000 \
//       --out-npz samples.npz --device cuda     # sample_ddp.py: the samples split across ranks
//   sit-sample SDE --ckpt SiT-XL-2-256.pt --vae sd-vae-ft-ema --out-npz samples.npz   # sample.py

#include <sit/image/grid.h>
#include <sit/io/npy.h>
#include <sit/nn/sit_from_state_dict.h>
#include <sit/transport/guidance.h>
#include <sit/transport/sampler.h>
#include <sit/vae/vae_from_state_dict.h>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>

#include "common.h"

namespace {

struct SampleParams {
  std::string mode;  // "ODE" or "SDE"
  // Model.
  std::string ckpt;
  std::string ckpt_entry = "ema";
  std::optional<int64_t> num_heads;
  std::optional<int64_t> num_classes;
  // Inputs and outputs.
  std::string noise;
  std::string labels;
  std::string sde_noise;
  std::vector<int64_t> class_labels;
  int64_t num_samples = 8;  // class-balanced labels when none are given
  int64_t batch_size = 64;
  uint64_t seed = 0;
  std::string out_npy;
  std::string out_npz;
  std::string out = "sample.png";
  int64_t nrow = 8;
  // Latent-space models: the VAE that turns samples / scaling_factor into images.
  std::string vae;
  std::string vae_config;
  int64_t vae_slice_size = 8;
  std::string out_latents;
  // Transport (create_transport).
  std::string path_type = "Linear";
  std::string prediction = "velocity";
  std::string loss_weight = "None";
  std::optional<double> train_eps;
  std::optional<double> sample_eps;
  // Guidance.
  double cfg_scale = 4.0;
  bool guide_all_channels = false;
  std::vector<double> cfg_interval = {0.0, 1.0};
  // Sampler.
  int64_t num_sampling_steps = 250;
  std::string ode_method = "dopri5";
  double atol = 1e-6;
  double rtol = 1e-3;
  bool reverse = false;
  bool likelihood = false;
  std::string sde_method = "Euler";
  std::string diffusion_form = "sigma";
  double diffusion_norm = 1.0;
  std::string last_step = "Mean";
  double last_step_size = 0.04;
  sit::examples::RuntimeParams runtime;
  sit::examples::DistributedParams distributed;
};

void add_options(CLI::App& app, SampleParams& p) {
  app.add_option("--ckpt", p.ckpt, "checkpoint: torch.save (.pt) or safetensors")->required();
  app.add_option("--ckpt-entry", p.ckpt_entry, "entry of a train.py checkpoint: ema or model");
  app.add_option("--num-heads", p.num_heads, "attention heads (needed when not a preset's width)");
  app.add_option("--num-classes", p.num_classes, "classes (the label table may add a null row)");
  app.add_option("--noise", p.noise, "initial noise (N, C, H, W) .npy (default: drawn from --seed)");
  app.add_option("--labels", p.labels, "class labels (N,) int64 .npy");
  app.add_option("--class-labels", p.class_labels, "class labels, e.g. 3,7,1")->delimiter(',');
  app.add_option("--num-samples", p.num_samples, "samples with class-balanced labels (no labels given)")
      ->check(CLI::PositiveNumber);
  app.add_option("--batch-size", p.batch_size, "samples per sampler run")->check(CLI::PositiveNumber);
  app.add_option("--seed", p.seed, "seed of the noise draws");
  app.add_option("--out-npy", p.out_npy, "write the samples (N, C, H, W) as .npy (images with --vae)");
  app.add_option("--out-npz", p.out_npz,
                 "write the ADM evaluation .npz: arr_0 uint8 (N, H, W, C), arr_1 int64 labels");
  app.add_option("--out", p.out, "write a PNG grid of the samples (pixel-space models)");
  app.add_option("--nrow", p.nrow, "images per row of the PNG grid")->check(CLI::PositiveNumber);
  app.add_option("--vae", p.vae,
                 "decode latents with this VAE: weights file or diffusers folder (e.g. sd-vae-ft-ema)");
  app.add_option("--vae-config", p.vae_config, "the VAE's config.json (default: beside the weights, else SD-VAE)");
  app.add_option("--vae-slice-size", p.vae_slice_size, "decode in batch slices of this size (0: all at once)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--out-latents", p.out_latents, "with --vae: also write the latents (N, C, h, w) as .npy");
  app.add_option("--path-type", p.path_type, "Linear, GVP or VP");
  app.add_option("--prediction", p.prediction, "velocity, score or noise");
  app.add_option("--loss-weight", p.loss_weight, "None, velocity or likelihood");
  app.add_option("--train-eps", p.train_eps);
  app.add_option("--sample-eps", p.sample_eps);
  app.add_option("--cfg-scale", p.cfg_scale, "classifier-free guidance scale (1: none)");
  app.add_flag("--guide-all-channels", p.guide_all_channels,
               "guide every channel (the official code guides the first 3)");
  app.add_option("--cfg-interval", p.cfg_interval, "guide only for t in [lo, hi]")
      ->expected(2)->delimiter(',');
  app.add_option("--num-sampling-steps", p.num_sampling_steps, "time grid points")
      ->check(CLI::PositiveNumber);
  sit::examples::add_runtime_options(app, p.runtime);
  sit::examples::add_distributed_options(app, p.distributed);
}

void add_ode_options(CLI::App& ode, SampleParams& p) {
  ode.add_option("--sampling-method", p.ode_method,
                 "dopri5, euler, midpoint, heun2, heun3, rk4, bosh3, adaptive_heun");
  ode.add_option("--atol", p.atol);
  ode.add_option("--rtol", p.rtol);
  ode.add_flag("--reverse", p.reverse, "data to noise");
  ode.add_flag("--likelihood", p.likelihood, "log-likelihood of --noise taken as data");
}

void add_sde_options(CLI::App& sde, SampleParams& p) {
  sde.add_option("--sampling-method", p.sde_method, "Euler or Heun");
  sde.add_option("--diffusion-form", p.diffusion_form,
                 "constant, SBDM, sigma, linear, decreasing, increasing-decreasing");
  sde.add_option("--diffusion-norm", p.diffusion_norm);
  sde.add_option("--last-step", p.last_step, "None, Mean, Tweedie or Euler");
  sde.add_option("--last-step-size", p.last_step_size);
  sde.add_option("--sde-noise", p.sde_noise,
                 "replay the Gaussian draws (steps, N, C, H, W) instead of drawing them");
}

torch::Tensor read_labels(const SampleParams& p, int64_t num_classes) {
  torch::Tensor y;
  if (!p.labels.empty()) {
    y = sit::io::read_npy(p.labels).to(torch::kInt64).reshape({-1});
  } else if (!p.class_labels.empty()) {
    y = torch::tensor(p.class_labels, torch::kInt64);
  } else {
    y = torch::arange(p.num_samples, torch::kInt64).remainder(num_classes);  // balanced
  }
  auto out_of_range = (y < 0).logical_or(y >= num_classes);
  if (out_of_range.any().item<bool>()) {
    int64_t bad = y.index({out_of_range})[0].item<int64_t>();
    throw std::invalid_argument(fmt::format("class label {} is outside the model's {} classes",
                                            bad, num_classes));
  }
  return y;
}

// The initial noise (N, C, H, W): --noise, or drawn batch after batch from `seed` (--seed, or a
// rank's seed).
class NoiseSource {
 public:
  NoiseSource(const SampleParams& p, uint64_t seed, const sit::nn::SiTOptions& model, int64_t n)
      : generator_(at::detail::createCPUGenerator(seed)),
        shape_{model.in_channels(), model.input_size(), model.input_size()} {
    if (p.noise.empty()) return;
    all_ = sit::io::read_npy(p.noise).to(torch::kFloat32);
    std::vector<int64_t> expected = {n, shape_[0], shape_[1], shape_[2]};
    if (all_.sizes() != torch::IntArrayRef(expected)) {
      throw std::invalid_argument(fmt::format("{}: noise has shape {}, the model and labels need {}",
                                              p.noise, all_.sizes(), expected));
    }
  }
  torch::Tensor batch(int64_t begin, int64_t end) {
    if (all_.defined()) return all_.slice(0, begin, end);
    return torch::randn({end - begin, shape_[0], shape_[1], shape_[2]}, generator_);
  }

 private:
  at::Generator generator_;
  std::array<int64_t, 3> shape_;
  torch::Tensor all_;
};

void print_likelihood(const sit::transport::LikelihoodResult& result, int64_t dimensions) {
  auto bpd = sit::transport::bits_per_dim(result.logp, dimensions);
  for (int64_t i = 0; i < result.logp.size(0); ++i) {
    fmt::print("sample {}: log-likelihood {:.6f} nats, {:.6f} bits/dim\n", i,
               result.logp[i].item<double>(), bpd[i].item<double>());
  }
  fmt::print("mean: {:.6f} nats, {:.6f} bits/dim ({} model evaluations)\n",
             result.logp.mean().item<double>(), bpd.mean().item<double>(), result.model_evaluations);
}

void write_outputs(const SampleParams& p, const torch::Tensor& samples, const torch::Tensor& labels) {
  if (!p.out_npy.empty()) sit::io::write_npy(p.out_npy, samples);
  if (!p.out_npz.empty()) {
    sit::io::NamedArrays arrays;
    arrays.insert("arr_0", sit::image::to_uint8_nhwc(samples));
    arrays.insert("arr_1", labels);
    sit::io::write_npz(p.out_npz, arrays);
    fmt::print("wrote {} (arr_0 {}, arr_1 labels)\n", p.out_npz, arrays["arr_0"].sizes());
  }
  if (p.out.empty()) return;
  if (samples.size(1) == 1 || samples.size(1) == 3) {
    sit::image::save_image(p.out, samples, sit::image::GridOptions().nrow(p.nrow));
    fmt::print("wrote {}\n", p.out);
  } else {
    fmt::print("the model has {} channels (a latent-space model): no PNG without --vae; "
               "use --out-npy for the latents\n", samples.size(1));
  }
}

// This rank's share of samples [0, n) under sample_ddp.py's split: ranks take consecutive
// ranges of ceil(n / world_size), each sampled in batches of batch_size; every rank runs the same
// number of batches (the last ranges may be short or empty), so batch k of all ranks can be
// gathered together.
struct Shard {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t num_batches = 0;
};

Shard shard_of(int64_t n, int64_t batch_size, int64_t rank, int64_t world_size) {
  int64_t per_rank = (n + world_size - 1) / world_size;
  Shard shard;
  shard.begin = std::min(n, rank * per_rank);
  shard.end = std::min(n, shard.begin + per_rank);
  shard.num_batches = (per_rank + batch_size - 1) / batch_size;
  return shard;
}

// Batch k of every rank, on rank 0 in rank order, trimmed to each rank's real samples: `batch`
// is this rank's (at most batch_size rows; padded to batch_size for the gather).
std::vector<torch::Tensor> gather_batch(sit::distributed::ProcessGroup& group, const torch::Tensor& batch,
                                        int64_t k, int64_t n, int64_t batch_size) {
  auto padded = torch::zeros({batch_size, batch.size(1), batch.size(2), batch.size(3)}, batch.options());
  padded.slice(0, 0, batch.size(0)).copy_(batch);
  auto all = group.all_gather(padded);
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < group.world_size(); ++r) {
    auto shard = shard_of(n, batch_size, r, group.world_size());
    int64_t rows = std::clamp<int64_t>(shard.end - shard.begin - k * batch_size, 0, batch_size);
    parts.push_back(all[r].slice(0, 0, rows).cpu());
  }
  return parts;
}

int run(const SampleParams& p) {
  auto device = sit::examples::apply_runtime(p.runtime);
  auto group = sit::examples::join_process_group(p.distributed, device);
  const int64_t rank = group ? group->rank() : 0, world_size = group ? group->world_size() : 1;
  if (group && (p.likelihood || !p.sde_noise.empty())) {
    throw std::invalid_argument("--likelihood and --sde-noise run in one process (no torchrun)");
  }
  auto model = sit::nn::load_sit(
      p.ckpt, sit::nn::ArchitectureHints().num_heads(p.num_heads).num_classes(p.num_classes),
      sit::ReadOptions().entry(p.ckpt_entry));
  model->to(device);
  const auto& arch = model->options;
  sit::vae::AutoencoderKL vae{nullptr};
  if (!p.vae.empty()) {
    vae = sit::vae::load_vae(p.vae, p.vae_config);
    if (vae->options.latent_channels() != arch.in_channels()) {
      throw std::invalid_argument(fmt::format("--vae {}: its latents have {} channels, the model's {}", p.vae,
                                              vae->options.latent_channels(), arch.in_channels()));
    }
    vae->to(device);
  } else if (!p.out_latents.empty()) {
    throw std::invalid_argument("--out-latents needs --vae (without it --out-npy writes the latents)");
  }
  auto labels = read_labels(p, arch.num_classes());
  int64_t n = labels.size(0);
  // sample_ddp.py's per-rank seed: global_seed * world_size + rank (--seed itself for one process).
  const uint64_t seed = p.seed * world_size + rank;
  const Shard shard = shard_of(n, p.batch_size, rank, world_size);
  NoiseSource noise(p, seed, arch, n);
  sit::transport::Sampler sampler(
      sit::transport::create_transport(p.path_type, p.prediction, p.loss_weight, p.train_eps, p.sample_eps));
  bool guided = p.cfg_scale > 1.0;
  if (guided && arch.class_dropout_prob() <= 0) {
    throw std::invalid_argument("--cfg-scale > 1 needs a label table with a null row");
  }
  if (!p.sde_noise.empty() && n > p.batch_size) {
    throw std::invalid_argument("--sde-noise replays one batch: give --batch-size >= " + std::to_string(n));
  }
  sit::transport::LabelledForward forward = [&](const torch::Tensor& x, const torch::Tensor& t,
                                                const torch::Tensor& y) { return model->forward(x, t, y); };
  // As sample.py: with guidance the state is [z; z] with labels [y; null]; the first half is kept.
  auto model_fn_for = [&](const torch::Tensor& y) -> sit::transport::ModelFn {
    if (!guided) {
      return [forward, y](const torch::Tensor& x, const torch::Tensor& t) { return forward(x, t, y); };
    }
    return sit::transport::classifier_free_guidance_doubled(
        forward, y,
        sit::transport::GuidanceOptions(p.cfg_scale, arch.num_classes())
            .guided_channels(p.guide_all_channels ? sit::transport::GuidedChannels::All
                                                  : sit::transport::GuidedChannels::FirstThree)
            .t_lo(p.cfg_interval[0])
            .t_hi(p.cfg_interval[1]));
  };

  if (p.likelihood) {
    if (guided) throw std::invalid_argument("--likelihood needs --cfg-scale 1");
    auto x = noise.batch(0, n).to(device);
    auto result = sampler.sample_ode_likelihood(
        x, model_fn_for(labels.to(device)),
        sit::transport::LikelihoodOptions()
            .sampling_method(sit::transport::parse_ode_method(p.ode_method))
            .num_steps(p.num_sampling_steps).atol(p.atol).rtol(p.rtol));
    print_likelihood(result, x[0].numel());
    if (!p.out_npy.empty()) sit::io::write_npy(p.out_npy, result.prior_sample.cpu());
    return 0;
  }

  torch::InferenceMode inference;  // (the likelihood above needs autograd for its divergence)
  auto sde_noise = p.sde_noise.empty()
                       ? sit::transport::gaussian_noise(at::detail::createCPUGenerator(seed + 1))
                       : sit::transport::replayed_noise(sit::io::read_npy(p.sde_noise));
  std::vector<std::vector<torch::Tensor>> batches(world_size);  // per rank, in order
  int64_t evaluations = 0;
  for (int64_t k = 0; k < shard.num_batches; ++k) {
    int64_t begin = std::min(shard.end, shard.begin + k * p.batch_size);
    int64_t end = std::min(shard.end, begin + p.batch_size);
    if (begin == end) {  // a short shard: nothing to sample, but the gather needs this rank
      auto empty = torch::empty({0, arch.in_channels(), arch.input_size(), arch.input_size()}, device);
      if (group) gather_batch(*group, empty, k, n, p.batch_size);
      continue;
    }
    auto z = noise.batch(begin, end).to(device);
    auto y = labels.slice(0, begin, end).to(device);
    auto state = guided ? torch::cat({z, z}) : z;
    sit::transport::SampleResult result;
    if (p.mode == "ODE") {
      result = sampler.sample_ode(state, model_fn_for(y),
                                  sit::transport::OdeSamplerOptions()
                                      .sampling_method(sit::transport::parse_ode_method(p.ode_method))
                                      .num_steps(p.num_sampling_steps).atol(p.atol).rtol(p.rtol)
                                      .reverse(p.reverse));
    } else {
      result = sampler.sample_sde(
          state, model_fn_for(y),
          sit::transport::SdeSamplerOptions()
              .sampling_method(sit::transport::parse_sde_method(p.sde_method))
              .diffusion_form(sit::transport::parse_diffusion_form(p.diffusion_form))
              .diffusion_norm(p.diffusion_norm)
              .last_step(sit::transport::parse_last_step(p.last_step))
              .last_step_size(p.last_step_size)
              .num_steps(p.num_sampling_steps),
          sde_noise);
    }
    auto sample = result.sample.slice(0, 0, end - begin);  // the conditional half
    if (group) {
      auto parts = gather_batch(*group, sample, k, n, p.batch_size);
      for (int64_t r = 0; r < world_size; ++r) batches[r].push_back(parts[r]);
    } else {
      batches[0].push_back(sample.cpu());
    }
    evaluations += result.model_evaluations;
    if (rank == 0 && n > p.batch_size) {
      fmt::print("\rsampled {}/{}", std::min(n, end * world_size), n), std::fflush(stdout);
    }
  }
  if (rank != 0) return 0;  // rank 0 alone writes, as sample_ddp.py
  if (n > p.batch_size) fmt::print("\n");
  std::vector<torch::Tensor> in_order;
  for (auto& parts : batches) in_order.insert(in_order.end(), parts.begin(), parts.end());
  auto samples = torch::cat(in_order);
  fmt::print("{} samples, {} model evaluations{}\n", n, evaluations,
             world_size > 1 ? fmt::format(" on rank 0 of {}", world_size) : "");
  if (vae) {
    if (!p.out_latents.empty()) sit::io::write_npy(p.out_latents, samples);
    // As sample.py: vae.decode(samples / 0.18215).sample, a slice of the batch at a time.
    samples = vae->decode((samples / vae->options.scaling_factor()).to(device), p.vae_slice_size).cpu();
    fmt::print("decoded to images {}\n", samples.sizes());
  }
  write_outputs(p, samples, labels);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  SampleParams params;
  CLI::App app{"sit-sample: sample from a SiT checkpoint (the official sample.py)"};
  app.fallthrough();
  add_options(app, params);
  auto* ode = app.add_subcommand("ODE", "probability-flow ODE sampler");
  auto* sde = app.add_subcommand("SDE", "reverse-time SDE sampler");
  add_ode_options(*ode, params);
  add_sde_options(*sde, params);
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  params.mode = ode->parsed() ? "ODE" : "SDE";
  return sit::examples::run_main("sit-sample", [&] { return run(params); });
}
