// sit-sample: noise to samples with a SiT checkpoint, the official sample.py in C++.
//
//   sit-sample ODE --ckpt SiT-XL-2-256x256.pt --vae ema --num-sampling-steps 50   # sample.py's flags
//   sit-sample SDE --ckpt ckpt.pt --noise z.npy --labels y.npy --sde-noise w.npy --out-npy x.npy
//   torchrun --no-python --nproc_per_node=8 sit-sample ODE --ckpt ckpt.pt --num-samples 50000 \
//       --out-npz samples.npz --device cuda     # sample_ddp.py: the samples split across ranks
//   sit-sample --preset sit-xl-sde --num-samples 50000 --out-npz samples.npz   # the paper's FID 2.06
//   sit-sample ODE --ckpt ckpt.pt --guide-ckpt early.pt --cfg-scale 2   # autoguidance
//
// The model's architecture and transport come from the checkpoint (sit-train's configuration,
// train.py's args, or the weights' shapes); a flag that contradicts them is an error.

#include <sit/image/grid.h>
#include <sit/io/npy.h>
#include <sit/pipeline/generator.h>
#include <sit/transport/guidance.h>
#include <sit/transport/sampler.h>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>

#include "common.h"

namespace fs = std::filesystem;
namespace tr = sit::transport;
using sit::config::ConfigError;

namespace {

struct SampleParams {
  // The model: a checkpoint, and what the user says about it (checked against it).
  std::string ckpt;  // default: sample.py's SiT-XL-2-<image-size>x<image-size>.pt in the models folder
  std::string ckpt_entry = "ema";
  std::optional<std::string> model;
  std::optional<int64_t> num_heads;
  std::optional<int64_t> num_classes;
  std::optional<int64_t> image_size;
  std::string models_dir;  // --models-dir, else $SIT_MODELS_DIR, else pretrained_models
  std::string guide_ckpt;  // autoguidance: a weaker checkpoint of the same data
  std::string preset;      // a name of presets()
  tr::TransportOptions transport;
  tr::SamplerOptions sampler;
  tr::GuidanceOptions guidance;
  sit::nn::RuntimeConfig runtime;
  sit::examples::DistributedParams distributed;
  // Inputs.
  std::string noise;
  std::string labels;
  std::string sde_noise;
  std::vector<int64_t> class_labels;
  int64_t num_samples = 8;  // class-balanced labels when none are given
  int64_t batch_size = 64;
  uint64_t seed = 0;
  // Outputs; none given: sample.png, as sample.py.
  std::string out_npy;
  std::string out_npz;
  std::string out;
  int64_t nrow = 8;
  // Latent-space models: the VAE that turns samples / scaling_factor into images.
  sit::vae::VaeConfig vae;
  std::string out_latents;
};

// A named command line: the settings behind a published number, applied as if typed.
struct Preset {
  const char* name;
  tr::SamplerMode mode;
  std::vector<std::pair<std::string, std::string>> flags;  // (flag, value)
};

// The SiT paper's headline ImageNet 256x256 numbers of SiT-XL/2 (Ma et al. 2024, with cfg 1.5):
// FID 2.06 with the SDE, 2.15 with the ODE, sampled by sample_ddp.py with its defaults (--vae ema,
// tf32 matmuls, 250 steps; parse_ode_args' dopri5 at atol 1e-6, rtol 1e-3; parse_sde_args' Euler
// with the sigma diffusion of norm 1 and a last Mean step of 0.04). The sample count and outputs
// are the caller's (--num-samples 50000 --out-npz for FID-50K).
const std::vector<Preset>& presets() {
  static const std::vector<std::pair<std::string, std::string>> common = {
      {"--model", "SiT-XL/2"}, {"--image-size", "256"}, {"--num-classes", "1000"}, {"--vae", "ema"},
      {"--cfg-scale", "1.5"},  {"--precision", "tf32"}, {"--num-sampling-steps", "250"}};
  auto with = [](std::vector<std::pair<std::string, std::string>> mode_flags) {
    auto flags = common;
    flags.insert(flags.end(), mode_flags.begin(), mode_flags.end());
    return flags;
  };
  static const std::vector<Preset> all = {
      {"sit-xl-ode", tr::SamplerMode::ODE, with({{"--sampling-method", "dopri5"}, {"--atol", "1e-6"}, {"--rtol", "1e-3"}})},
      {"sit-xl-sde", tr::SamplerMode::SDE,
       with({{"--sampling-method", "Euler"}, {"--diffusion-form", "sigma"}, {"--diffusion-norm", "1"},
             {"--last-step", "Mean"}, {"--last-step-size", "0.04"}})}};
  return all;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& preset : presets()) names.emplace_back(preset.name);
  return names;
}

void add_options(CLI::App& app, SampleParams& p) {
  namespace ex = sit::examples;
  std::string preset_help = "the settings of a published result, as if typed (flags given override them):";
  for (const auto& preset : presets()) {
    preset_help += fmt::format("\n  {}: {}", preset.name, sit::config::enum_name(preset.mode));
    for (const auto& [flag, value] : preset.flags) preset_help += " " + flag + " " + value;
  }
  app.add_option("--preset", p.preset, preset_help)->check(CLI::IsMember(preset_names()));
  app.add_option("--ckpt", p.ckpt,
                 "checkpoint: torch.save (.pt) or safetensors (default: sample.py's "
                 "SiT-XL-2-<image-size>x<image-size>.pt in the models folder)");
  app.add_option("--ckpt-entry", p.ckpt_entry, "entry of a train.py checkpoint: ema or model")->capture_default_str();
  app.add_option("--model", p.model, "the checkpoint's preset (checked against its weights)");
  app.add_option("--num-heads", p.num_heads, "attention heads (needed when neither a preset's width nor saved)");
  app.add_option("--num-classes", p.num_classes, "classes (the label table may add a null row)");
  app.add_option("--image-size", p.image_size, "image size (latent models: 8 x their input size)");
  app.add_option("--guide-ckpt", p.guide_ckpt,
                 "autoguidance: guide by this weaker checkpoint of the same data (read as --ckpt, with "
                 "--ckpt-entry) instead of the null label, out = guide + cfg_scale (model - guide); needs "
                 "--cfg-scale > 1");
  app.add_option("--models-dir", p.models_dir,
                 "where --vae ema|mse and the default checkpoint are looked up (default: $SIT_MODELS_DIR, "
                 "else pretrained_models)");
  // The training loss's settings beyond train.py's, which sample.py has no flags for either.
  ex::bind(app, p.transport, {"time_sampling", "logit_mean", "logit_std", "cosine_loss_weight", "cosine_loss_over"});
  ex::bind(app, p.sampler);
  ex::bind(app, p.guidance);
  ex::bind(app, p.runtime);
  ex::add_distributed_options(app, p.distributed);
  app.add_option("--noise", p.noise, "initial noise (N, C, H, W) .npy (default: drawn from --seed)");
  app.add_option("--labels", p.labels, "class labels (N,) int64 .npy");
  app.add_option("--class-labels", p.class_labels, "class labels, e.g. 3,7,1")->delimiter(',');
  app.add_option("--num-samples", p.num_samples, "samples with class-balanced labels (no labels given)")
      ->check(sit::examples::kPositive)->capture_default_str();
  app.add_option("--batch-size", p.batch_size, "samples per sampler run")->check(sit::examples::kPositive)->capture_default_str();
  app.add_option("--seed", p.seed, "seed of the noise draws")->capture_default_str();
  app.add_option("--out-npy", p.out_npy, "write the samples (N, C, H, W) as .npy (images with a VAE)")->check(sit::examples::kOutputFile);
  app.add_option("--out-npz", p.out_npz,
                 "write the ADM evaluation .npz: arr_0 uint8 (N, H, W, C), arr_1 int64 labels")->check(sit::examples::kOutputFile);
  app.add_option("--out", p.out, "write a PNG grid of the samples (without any --out*: sample.png)")->check(sit::examples::kOutputFile);
  app.add_option("--nrow", p.nrow, "images per row of the PNG grid")->check(sit::examples::kPositive)->capture_default_str();
  ex::bind(app, p.vae);
  app.add_option("--out-latents", p.out_latents, "with a VAE: also write the latents (N, C, h, w) as .npy")->check(sit::examples::kOutputFile);
}

void add_mode_options(CLI::App& ode, CLI::App& sde, SampleParams& p) {
  sit::examples::bind_fields(ode, p.sampler, [](auto& g, auto&& f) { tr::SamplerOptions::ode_fields(g, f); });
  sit::examples::bind_fields(ode, p.sampler, [](auto& g, auto&& f) { tr::SamplerOptions::ode_task_fields(g, f); });
  sit::examples::bind_fields(sde, p.sampler, [](auto& g, auto&& f) { tr::SamplerOptions::sde_fields(g, f); });
  sde.add_option("--sde-noise", p.sde_noise, "replay the Gaussian draws (steps, N, C, H, W) instead of drawing them");
}

// Checks the settings on their own, before anything is loaded (the runtime: apply_runtime).
void validate(const CLI::App& app, const SampleParams& p) {
  p.sampler.validate();
  p.guidance.validate();
  p.transport.validate();
  p.vae.validate();
  if (p.sampler.mode() == tr::SamplerMode::ODE && p.sampler.likelihood() && p.noise.empty()) {
    throw ConfigError("--likelihood scores the data given by --noise (N, C, H, W); give it");
  }
  if (!p.labels.empty() && !p.class_labels.empty()) throw ConfigError("--labels and --class-labels exclude each other");
  if ((!p.labels.empty() || !p.class_labels.empty()) && sit::examples::given(app, "num_samples")) {
    throw ConfigError("--num-samples counts class-balanced samples; the labels given already fix the count");
  }
  if (p.image_size && (*p.image_size <= 0)) throw ConfigError("--image-size " + std::to_string(*p.image_size) + ": must be positive");
}

// The flags as the library's options: what they say of the checkpoint (the transport flags given
// on the command line), how to sample and decode.
sit::GeneratorOptions generator_options(const CLI::App& app, const SampleParams& p, const torch::Device& device) {
  namespace ex = sit::examples;
  auto o = sit::GeneratorOptions()
               .ckpt_entry(p.ckpt_entry)
               .model(p.model)
               .num_heads(p.num_heads)
               .num_classes(p.num_classes)
               .image_size(p.image_size)
               .sampler(p.sampler)
               .guidance(p.guidance)
               .guide_ckpt(p.guide_ckpt)
               .vae(p.sampler.likelihood() ? sit::vae::VaeConfig() : p.vae)
               .models_dir(p.models_dir)
               .device(device)
               .precision(p.runtime.precision)
               .batch_size(p.batch_size);
  if (ex::given(app, "path_type")) o.path_type(p.transport.path_type());
  if (ex::given(app, "prediction")) o.prediction(p.transport.prediction());
  if (ex::given(app, "sample_eps")) o.sample_eps(p.transport.sample_eps());
  return o;
}

// The checkpoint: --ckpt, or sample.py's default name in the models folder.
std::string checkpoint_path(const SampleParams& p) {
  if (!p.ckpt.empty()) return p.ckpt;
  int64_t size = p.image_size.value_or(256);
  auto name = fmt::format("SiT-XL-2-{}x{}.pt", size, size);
  const auto dir = sit::models_dir(sit::GeneratorOptions().models_dir(p.models_dir));
  auto path = (fs::path(dir) / name).string();
  if (!fs::exists(path)) {
    throw ConfigError(fmt::format("no --ckpt, and sample.py's default checkpoint {} is not there: download {} "
                                  "(the released SiT-XL/2, see willisma/SiT's README) into {}, or give --ckpt",
                                  path, name, dir));
  }
  return path;
}

torch::Tensor read_labels(const SampleParams& p, const sit::Generator& generator) {
  if (!p.class_labels.empty()) return torch::tensor(p.class_labels, torch::kInt64);
  if (p.labels.empty()) return generator.balanced_labels(p.num_samples);
  auto y = sit::io::read_npy(p.labels);
  if (!c10::isIntegralType(y.scalar_type(), /*includeBool=*/false) || y.dim() != 1) {
    throw std::invalid_argument(fmt::format("{}: labels are {} {}, expected integers (N,)", p.labels,
                                            c10::toString(y.scalar_type()), y.sizes()));
  }
  return y.to(torch::kInt64);
}

void print_likelihood(const sit::transport::LikelihoodResult& result, int64_t dimensions) {
  auto bpd = sit::transport::bits_per_dim(result.logp, dimensions);
  for (int64_t i = 0; i < result.logp.size(0); ++i) {
    fmt::print("sample {}: log-likelihood {:.6f} nats, {:.6f} bits/dim\n", i,
               result.logp[i].item<double>(), bpd[i].item<double>());
  }
  fmt::print("mean: {:.6f} nats, {:.6f} bits/dim ({} model evaluations)\n",
             result.logp.mean().item<double>(), bpd.mean().item<double>(), result.model_evaluations);
}

void write_outputs(const SampleParams& p, const torch::Tensor& samples, const torch::Tensor& latents,
                   const torch::Tensor& labels) {
  if (!p.out_latents.empty()) sit::io::write_npy(p.out_latents, latents);
  if (!p.out_npy.empty()) sit::io::write_npy(p.out_npy, samples);
  if (!p.out_npz.empty()) {
    sit::io::NamedArrays arrays;
    arrays.insert("arr_0", sit::image::to_uint8_nhwc(samples));
    arrays.insert("arr_1", labels);
    sit::io::write_npz(p.out_npz, arrays);
    fmt::print("wrote {} (arr_0 {}, arr_1 labels)\n", p.out_npz, arrays["arr_0"].sizes());
  }
  if (p.out.empty()) return;
  sit::image::save_image(p.out, samples, sit::image::GridOptions().nrow(p.nrow));
  fmt::print("wrote {}\n", p.out);
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
                                        int64_t k, int64_t n, int64_t batch_size, const torch::Device& device) {
  std::vector<int64_t> shape = batch.sizes().vec();
  shape[0] = batch_size;
  auto padded = torch::zeros(shape, batch.options().device(device));
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

// The samples of this rank's shard, batch after batch, and on rank 0 all of them in sample order:
// sample i is the seed's sample i whichever rank draws it.
sit::Generation sample_shard(const SampleParams& p, const sit::Generator& generator, const torch::Tensor& labels,
                             const torch::Tensor& noise, sit::distributed::ProcessGroup* group) {
  const int64_t n = labels.size(0), rank = group ? group->rank() : 0, world_size = group ? group->world_size() : 1;
  const Shard shard = shard_of(n, p.batch_size, rank, world_size);
  const auto& arch = generator.architecture();
  const bool latents_kept = generator.vae() && !p.out_latents.empty();
  std::vector<std::vector<torch::Tensor>> samples(world_size), latents(world_size);  // per rank, in order
  const torch::Tensor sde_noise = p.sde_noise.empty() ? torch::Tensor() : sit::io::read_npy(p.sde_noise);
  sit::Generation out;
  for (int64_t k = 0; k < shard.num_batches; ++k) {
    const int64_t begin = std::min(shard.end, shard.begin + k * p.batch_size);
    const int64_t end = std::min(shard.end, begin + p.batch_size);
    sit::Generation batch;
    if (begin < end) {  // a short shard has nothing to sample, but the gather needs this rank
      auto draws = sit::Draws().seed(p.seed).first(begin);
      if (noise.defined()) draws.noise(noise.slice(0, begin, end));
      if (sde_noise.defined()) draws.sde_noise(sde_noise);
      batch = generator.generate(labels.slice(0, begin, end), draws);
      out.model_evaluations += batch.model_evaluations;
    } else {
      const int64_t side = arch.input_size() * (generator.vae() ? generator.vae()->options.downsample_factor() : 1);
      const int64_t channels = generator.vae() ? generator.vae()->options.out_channels() : arch.in_channels();
      batch.samples = torch::empty({0, channels, side, side});
      batch.latents = torch::empty({0, arch.in_channels(), arch.input_size(), arch.input_size()});
    }
    if (group) {
      const auto& device = generator.options().device();
      auto parts = gather_batch(*group, batch.samples, k, n, p.batch_size, device);
      for (int64_t r = 0; r < world_size; ++r) samples[r].push_back(parts[r]);
      if (latents_kept) {
        parts = gather_batch(*group, batch.latents, k, n, p.batch_size, device);
        for (int64_t r = 0; r < world_size; ++r) latents[r].push_back(parts[r]);
      }
    } else {
      samples[0].push_back(batch.samples);
      if (latents_kept) latents[0].push_back(batch.latents);
    }
    if (rank == 0 && n > p.batch_size) fmt::print("\rsampled {}/{}", std::min(n, end * world_size), n), std::fflush(stdout);
  }
  if (rank == 0 && n > p.batch_size) fmt::print("\n");
  auto in_order = [](const std::vector<std::vector<torch::Tensor>>& per_rank) {
    std::vector<torch::Tensor> all;
    for (const auto& parts : per_rank) all.insert(all.end(), parts.begin(), parts.end());
    return all.empty() ? torch::Tensor() : torch::cat(all);
  };
  out.samples = in_order(samples);
  out.latents = in_order(latents);
  return out;
}

int run(const CLI::App& app, SampleParams p) {
  namespace ex = sit::examples;
  if (!p.sampler.likelihood() && !ex::given(app, "out") && !ex::given(app, "out_npy") && !ex::given(app, "out_npz")) {
    p.out = "sample.png";  // sample.py's output
  }
  if (p.model && p.model->empty()) p.model.reset();  // --model '': no preset, as sit-train's free model
  validate(app, p);
  auto device = ex::apply_runtime(p.runtime);
  p.runtime.precision = ex::runnable_precision(device, p.runtime.precision);
  auto group = ex::join_process_group(p.distributed, device);
  const int64_t rank = group ? group->rank() : 0, world_size = group ? group->world_size() : 1;
  if (world_size > 1 && (p.sampler.likelihood() || !p.sde_noise.empty())) {
    throw ConfigError("--likelihood and --sde-noise run in one process (no torchrun)");
  }

  sit::Generator generator(checkpoint_path(p), generator_options(app, p, device));
  const bool images_wanted = !p.out.empty() || !p.out_npz.empty();
  if (!p.sampler.likelihood() && !generator.vae() && generator.latent_space() && images_wanted) {
    generator.load_vae({"mse", p.vae.config, p.vae.slice_size});  // sample.py's default
  }
  if (!generator.vae() && !p.out_latents.empty()) {
    throw ConfigError("--out-latents needs --vae (without it --out-npy writes the latents)");
  }
  auto labels = read_labels(p, generator);
  const int64_t n = labels.size(0);
  torch::Tensor noise = p.noise.empty() ? torch::Tensor() : sit::io::read_npy(p.noise).to(torch::kFloat32);
  if (noise.defined()) {  // here, as the ranks take slices of it
    try {
      generator.check_input(noise, n);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(p.noise + ": " + e.what());
    }
  }
  if (p.sampler.likelihood()) {
    auto result = generator.log_likelihood(noise, labels);
    print_likelihood(result, noise[0].numel());
    if (!p.out_npy.empty()) sit::io::write_npy(p.out_npy, result.prior_sample.cpu());
    return 0;
  }
  auto sampled = sample_shard(p, generator, labels, noise, group.get());
  if (rank != 0) return 0;  // rank 0 alone writes, as sample_ddp.py
  fmt::print("{} samples, {} model evaluations{}\n", n, sampled.model_evaluations,
             world_size > 1 ? fmt::format(" on rank 0 of {}", world_size) : "");
  if (generator.vae()) fmt::print("decoded to images {}\n", sampled.samples.sizes());
  write_outputs(p, sampled.samples, sampled.latents, labels);
  return 0;
}

// A value as a shell takes it: quoted when empty or holding anything but a plain word.
std::string shell_word(const std::string& value) {
  const bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string("-_./,:+=").find(c) != std::string::npos;
  });
  return plain ? value : "'" + value + "'";
}

// Whether two values of a flag say the same: 1e-6 and 0.000001 do.
bool same_value(const std::string& a, const std::string& b) {
  try {
    size_t used_a = 0, used_b = 0;
    const double x = std::stod(a, &used_a), y = std::stod(b, &used_b);
    if (used_a == a.size() && used_b == b.size()) return x == y;
  } catch (const std::exception&) {
  }
  return a == b;
}

// --preset: each of its flags the command line did not give is set as if typed (so it is checked
// against the checkpoint like a typed flag); one given with another value keeps that value, with a
// notice. The mode is the preset's, and a command line of the other mode is an error. Prints the
// equivalent command line.
void apply_preset(CLI::App& app, CLI::App& ode, CLI::App& sde, SampleParams& p) {
  if (p.preset.empty()) {
    if (!ode.parsed() && !sde.parsed()) throw ConfigError("give the mode, ODE or SDE, or a --preset");
    return;
  }
  const auto& preset = *std::find_if(presets().begin(), presets().end(),
                                     [&](const Preset& candidate) { return p.preset == candidate.name; });
  const auto mode = sit::config::enum_name(preset.mode);
  CLI::App& mode_app = preset.mode == tr::SamplerMode::ODE ? ode : sde;
  if (ode.parsed() || sde.parsed()) {
    if (!mode_app.parsed()) {
      throw ConfigError(fmt::format("--preset {} samples with the {}, but the command line says {}", preset.name, mode,
                                    sit::config::enum_name(p.sampler.mode())));
    }
  }
  p.sampler.mode(preset.mode);
  std::string line = "sit-sample " + mode;
  for (const auto& [flag, value] : preset.flags) {
    CLI::Option* option = app.get_option_no_throw(flag);
    if (option == nullptr) option = mode_app.get_option_no_throw(flag);
    std::string applied = value;
    if (option->count() > 0) {
      applied = option->results().back();
      if (!same_value(applied, value)) {
        fmt::print("--preset {}: {} {} given, instead of the preset's {}\n", preset.name, flag, shell_word(applied),
                   value);
      }
    } else {
      option->add_result(value);
      option->run_callback();
    }
    line += " " + flag + " " + shell_word(applied);
  }
  fmt::print("--preset {}: {}\n", preset.name, line);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  SampleParams params;
  CLI::App app{"sit-sample: sample from a SiT checkpoint (the official sample.py)"};
  app.fallthrough();
  add_options(app, params);
  auto* ode = app.add_subcommand("ODE", "probability-flow ODE sampler");
  auto* sde = app.add_subcommand("SDE", "reverse-time SDE sampler");
  add_mode_options(*ode, *sde, params);
  app.require_subcommand(0, 1);  // none: the --preset's mode
  return sit::examples::run_main("sit-sample", app, argc, argv, [&] {
    if (sde->parsed()) params.sampler.mode(tr::SamplerMode::SDE);
    apply_preset(app, *ode, *sde, params);
    return run(app, params);
  });
}
