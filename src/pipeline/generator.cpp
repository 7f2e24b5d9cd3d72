#include <sit/pipeline/generator.h>

#include <sit/config/error.h>
#include <sit/nn/model_config.h>
#include <sit/nn/presets.h>
#include <sit/nn/sit_from_state_dict.h>
#include <sit/train/checkpoint_settings.h>
#include <sit/vae/vae_from_state_dict.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <tuple>

#include "pipeline/sample_draws.h"

namespace sit {

namespace fs = std::filesystem;
using config::ConfigError;

namespace {

template <typename T>
std::string text(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A setting both the caller and the checkpoint give must agree.
template <typename T>
std::optional<T> agree(const char* key, const std::optional<T>& given, const std::optional<T>& saved,
                       const std::string& ckpt, const std::string& origin) {
  if (given && saved && *given != *saved) {
    throw ConfigError(config::setting(key) + " " + text(*given) + " contradicts " + ckpt + "; saved in " + origin + ": " +
                      text(*saved));
  }
  return given ? given : saved;
}

bool latent(const nn::SiTOptions& model) { return model.in_channels() != 1 && model.in_channels() != 3; }

}  // namespace

std::string models_dir(const GeneratorOptions& options) {
  if (!options.models_dir().empty()) return options.models_dir();
  const char* env = std::getenv("SIT_MODELS_DIR");
  return env != nullptr && *env != '\0' ? env : "pretrained_models";
}

namespace {

// The transport: the checkpoint's, with the caller's sample_eps. A model trained on one path or
// prediction cannot sample another.
transport::TransportOptions resolve_transport(const GeneratorOptions& o, const train::CheckpointSettings& saved,
                                             const std::string& ckpt) {
  transport::TransportOptions t;
  if (saved.transport) t = *saved.transport;
  auto same = [&](const char* key, const auto& given, auto& value) {
    if (!given) return;
    if (saved.transport && *given != value) {
      throw ConfigError(config::setting(key) + " " + config::enum_name(*given) + " contradicts " + ckpt + "; saved in " +
                        saved.origin + ": " + config::enum_name(value));
    }
    value = *given;
  };
  same("path_type", o.path_type(), t.path_type());
  same("prediction", o.prediction(), t.prediction());
  if (o.sample_eps()) t.sample_eps(o.sample_eps());
  t.validate();
  return t;
}

// The LightningDiT block options the weights show (weights) are those saved with them.
void check_block_options(const nn::SiTOptions& weights, const nn::SiTOptions& saved, const std::string& ckpt,
                         const std::string& origin) {
  const std::tuple<const char*, bool, bool> options[] = {
      {"use_rmsnorm", weights.use_rmsnorm(), saved.use_rmsnorm()},
      {"use_swiglu", weights.use_swiglu(), saved.use_swiglu()},
      {"use_rope", weights.use_rope(), saved.use_rope()},
      {"use_qknorm", weights.use_qknorm(), saved.use_qknorm()}};
  for (const auto& [key, shown, said] : options) {
    if (shown != said) {
      throw ConfigError(ckpt + ": its weights are of " + config::setting(key) + " " + (shown ? "true" : "false") +
                        ", but " + origin + " says " + (said ? "true" : "false"));
    }
  }
}

// The SiT of the checkpoint, its architecture from what the checkpoint holds and the options
// checked against it.
nn::SiT load_model(const GeneratorOptions& o, const std::string& ckpt, const io::Checkpoint& checkpoint,
                   const train::CheckpointSettings& saved) {
  auto claimed = o.model();
  if (claimed && saved.fork_model && *claimed == *saved.fork_model) claimed.reset();  // the fork's own name
  if (claimed) {
    nn::ModelConfig preset;
    preset.model = *claimed;
    preset.validate();  // a preset
  }
  auto model_name = agree("model", claimed, saved.model, ckpt, saved.origin);
  auto num_heads = agree("num_heads", o.num_heads(), saved.num_heads, ckpt, saved.origin);
  auto num_classes = agree("num_classes", o.num_classes(), saved.num_classes, ckpt, saved.origin);
  auto image_size = agree("image_size", o.image_size(), saved.image_size, ckpt, saved.origin);
  if (model_name && !num_heads) num_heads = nn::sit_preset(*model_name).num_heads();
  const auto hints = nn::ArchitectureHints().num_heads(num_heads).num_classes(num_classes);
  nn::SiTOptions options;
  try {
    options = nn::infer_sit_options(checkpoint.state_dict, hints, ckpt);
  } catch (const std::exception& e) {
    if (!saved.fork_model || num_heads) throw;
    throw ConfigError(ckpt + ": train.py's args.model '" + *saved.fork_model +
                      "' is no SiT preset (a fork's model): give its heads with " + config::setting("num_heads") + " (" +
                      e.what() + ")");
  }
  if (model_name) {
    auto preset = nn::sit_preset(*model_name);
    if (preset.depth() != options.depth() || preset.hidden_size() != options.hidden_size() ||
        preset.patch_size() != options.patch_size()) {
      throw ConfigError(config::setting("model") + " " + *model_name + " (depth " + std::to_string(preset.depth()) + ", hidden " +
                        std::to_string(preset.hidden_size()) + ", patch " + std::to_string(preset.patch_size()) +
                        ") contradicts " + ckpt + ": its weights are depth " + std::to_string(options.depth()) +
                        ", hidden " + std::to_string(options.hidden_size()) + ", patch " +
                        std::to_string(options.patch_size()));
    }
  }
  if (image_size) {
    const int64_t expected = latent(options) ? options.input_size() * 8 : options.input_size();
    if (*image_size != expected) {
      throw ConfigError(config::setting("image_size") + " " + std::to_string(*image_size) + " contradicts " + ckpt + ": its " +
                        std::to_string(options.input_size()) + "x" + std::to_string(options.input_size()) + " " +
                        (latent(options) ? "latents" : "inputs") + " mean " + std::to_string(expected));
    }
  }
  if (saved.architecture) check_block_options(options, *saved.architecture, ckpt, saved.origin);
  nn::SiT model(options);
  io::load_state_dict(*model, nn::without_projectors(checkpoint.state_dict), ckpt);
  model->eval();
  return model;
}

// The guide of autoguidance: any checkpoint of ours, read as the model's is, its architecture from
// what it holds (not from the model's options); it must model the same data as the model
// (channels, size, classes) with the same transport.
nn::SiT load_guide(const GeneratorOptions& o, const nn::SiTOptions& model, const transport::TransportOptions& t) {
  const auto& ckpt = o.guide_ckpt();
  const auto checkpoint = io::read_checkpoint(ckpt, io::ReadOptions().entry(o.ckpt_entry()));
  const auto saved = train::checkpoint_settings(checkpoint, ckpt);
  auto options = nn::infer_sit_options(
      checkpoint.state_dict,
      nn::ArchitectureHints().num_heads(saved.num_heads).num_classes(saved.num_classes.value_or(model.num_classes())),
      ckpt);
  auto data = [](const nn::SiTOptions& m) {
    return std::to_string(m.in_channels()) + "x" + std::to_string(m.input_size()) + "x" +
           std::to_string(m.input_size()) + " inputs in " + std::to_string(m.num_classes()) + " classes";
  };
  if (options.in_channels() != model.in_channels() || options.input_size() != model.input_size() ||
      options.num_classes() != model.num_classes()) {
    throw ConfigError(config::setting("guide_ckpt") + " " + ckpt + ": its model takes " + data(options) + ", the model " + data(model) +
                      "; a guide must model the same data");
  }
  if (saved.transport && (saved.transport->path_type() != t.path_type() || saved.transport->prediction() != t.prediction())) {
    throw ConfigError(config::setting("guide_ckpt") + " " + ckpt + ": trained with " + config::setting("path_type") + " " +
                      config::enum_name(saved.transport->path_type()) + " " + config::setting("prediction") + " " +
                      config::enum_name(saved.transport->prediction()) + ", the model samples " +
                      config::enum_name(t.path_type()) + " " + config::enum_name(t.prediction()));
  }
  if (saved.architecture) check_block_options(options, *saved.architecture, ckpt, saved.origin);
  nn::SiT guide(options);
  io::load_state_dict(*guide, nn::without_projectors(checkpoint.state_dict), ckpt);
  guide->eval();
  return guide;
}

// The VAE of options.vae(): ema and mse named as sample.py, else a folder or weights file.
vae::AutoencoderKL load_decoder(const GeneratorOptions& o, vae::VaeConfig vae, const nn::SiTOptions& arch) {
  vae.validate();
  std::string& path = vae.path;
  if (path == "ema" || path == "mse") {
    auto folder = fs::path(models_dir(o)) / ("sd-vae-ft-" + path);
    if (!fs::exists(folder)) {
      throw ConfigError(config::setting("vae") + " " + path + ": " + folder.string() + " is missing; download stabilityai/sd-vae-ft-" +
                        path + " (config.json and diffusion_pytorch_model.safetensors) into it, set " + config::setting("models_dir") + " or "
                        "SIT_MODELS_DIR, or write latents with " + config::setting("out_npy") + " only");
    }
    path = folder.string();
  }
  auto decoder = vae.load();
  if (decoder->options.latent_channels() != arch.in_channels()) {
    throw ConfigError(config::setting("vae") + " " + path + ": its latents have " + std::to_string(decoder->options.latent_channels()) +
                      " channels, the model's " + std::to_string(arch.in_channels()));
  }
  return decoder;
}

}  // namespace

namespace {

// A MeanFlow model at the interval h: u(x, t, h) with labels.
transport::LabelledForward interval_forward(const nn::SiT& model, double h) {
  std::shared_ptr<nn::SiTImpl> sit = model.ptr();
  return [sit, h](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return sit->forward(x, t, y, c10::nullopt, torch::full_like(t, h)).to(x.scalar_type());
  };
}

bool mean_flow_sampler(const transport::SamplerOptions& s) {
  return s.mode() == transport::SamplerMode::ODE && s.ode_method() == transport::OdeMethod::MeanFlow;
}

}  // namespace

transport::LabelledForward labelled_forward(const nn::SiT& model) {
  if (!model) return nullptr;
  std::shared_ptr<nn::SiTImpl> sit = model.ptr();
  return [sit](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return sit->forward(x, t, y).to(x.scalar_type());  // bf16 under autocast: the state stays fp32
  };
}

Generator::Generator(const std::string& ckpt, GeneratorOptions options) : options_(std::move(options)) {
  options_.sampler().validate();
  options_.guidance().validate();
  const auto checkpoint = io::read_checkpoint(ckpt, io::ReadOptions().entry(options_.ckpt_entry()));
  const auto saved = train::checkpoint_settings(checkpoint, ckpt);
  transport_ = resolve_transport(options_, saved, ckpt);
  options_.guidance().validate_for(transport_.prediction());
  model_ = load_model(options_, ckpt, checkpoint, saved);
  if (!options_.guide_ckpt().empty()) guide_ = load_guide(options_, model_->options, transport_);
  check_settings();
  model_->to(options_.device());
  if (guide_) guide_->to(options_.device());
  if (options_.vae().given()) load_vae(options_.vae());
}

void Generator::load_vae(const vae::VaeConfig& vae) {
  vae_ = load_decoder(options_, vae, model_->options);
  vae_->to(options_.device());
  options_.vae(vae);
}

Generator::Generator(nn::SiT model, transport::TransportOptions transport, vae::AutoencoderKL vae,
                     GeneratorOptions options)
    : options_(std::move(options)), model_(std::move(model)), vae_(std::move(vae)), transport_(std::move(transport)) {
  options_.sampler().validate();
  options_.guidance().validate();
  options_.guidance().validate_for(transport_.prediction());
  check_settings();
}

void Generator::check_settings() const {
  TORCH_CHECK(options_.batch_size() > 0, "Generator: batch_size must be positive, but got ", options_.batch_size());
  const auto& guidance = options_.guidance();
  if (!options_.guide_ckpt().empty() && !guidance.guided()) {
    throw ConfigError(config::setting("guide_ckpt") + " needs " + config::setting("cfg_scale") + " > 1, the weight w of guide + w (model - guide); " + config::setting("cfg_scale") + " " +
                      config::text(guidance.cfg_scale()) + " would sample the model alone");
  }
  if (guidance.guided() && !guide_ && model_->options.class_dropout_prob() <= 0) {
    throw ConfigError(config::setting("cfg_scale") + " > 1 needs a label table with a null row; this model has none (give " + config::setting("cfg_scale") + " 1, "
                      "or a guide with " + config::setting("guide_ckpt") + ")");
  }
  if (options_.sampler().likelihood() && guidance.guided()) {
    throw ConfigError(config::setting("likelihood") + " needs " + config::setting("cfg_scale") + " 1 (guidance has no likelihood)");
  }
  if (mean_flow_sampler(options_.sampler())) {
    if (!model_->options.meanflow()) {
      throw ConfigError(config::setting("sampling_method") + " meanflow needs a MeanFlow model (trained with " + config::setting("meanflow") + ": h_embedder "
                        "weights); this checkpoint has none, sample it with an ODE or SDE solver");
    }
    if (guide_ || guidance.zero_init_calls() > 0) {
      throw ConfigError(config::setting("sampling_method") + " meanflow takes neither " + config::setting("guide_ckpt") + " nor CFG-Zero*'s zero-init");
    }
  }
}

bool Generator::latent_space() const { return latent(model_->options); }

torch::Tensor Generator::balanced_labels(int64_t n) const {
  return torch::arange(n, torch::kInt64).remainder(model_->options.num_classes());
}

Generation Generator::generate(const torch::Tensor& labels, const Draws& draws, const Progress& progress) const {
  const auto& arch = model_->options;
  TORCH_CHECK(labels.dim() == 1 && !labels.is_floating_point(), "Generator: labels must be (N,) integers, but got ",
              labels.sizes(), " ", labels.scalar_type());
  auto y = labels.to(torch::kInt64).cpu();
  const int64_t n = y.size(0);
  auto out_of_range = (y < 0).logical_or(y >= arch.num_classes());
  if (out_of_range.any().item<bool>()) {
    throw std::invalid_argument("class label " + std::to_string(y.index({out_of_range})[0].item<int64_t>()) +
                                " is outside the model's " + std::to_string(arch.num_classes()) + " classes");
  }
  const std::array<int64_t, 3> shape = {arch.in_channels(), arch.input_size(), arch.input_size()};
  if (draws.noise().defined()) check_input(draws.noise(), n);
  const int64_t batch_size = options_.batch_size();
  if (draws.sde_noise().defined() && n > batch_size) {
    throw ConfigError(config::setting("sde_noise") + " replays one batch: give " + config::setting("batch_size") + " >= " + std::to_string(n));
  }
  const auto& s = options_.sampler();
  const auto& device = options_.device();
  transport::Sampler sampler{transport::Transport(transport_)};
  const auto guidance = transport::GuidanceOptions(options_.guidance()).null_label(arch.num_classes());
  const auto forward = labelled_forward(model_), guide_forward = labelled_forward(guide_);
  torch::InferenceMode inference;
  Generation out;
  out.labels = y;
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    auto z = draws.noise().defined() ? draws.noise().slice(0, begin, end).to(torch::kFloat32)
                                     : pipeline::initial_noise(draws.seed(), draws.first() + begin, end - begin, shape);
    auto conditioned = transport::condition(forward, y.slice(0, begin, end).to(device), guidance, guide_forward);
    auto state = conditioned.initial_state(z.to(device));
    auto noise = draws.sde_noise().defined() ? transport::replayed_noise(draws.sde_noise())
                                             : pipeline::sde_noise(draws.seed(), draws.first() + begin, end - begin);
    transport::SampleResult result;
    {
      nn::AutocastGuard autocast(device, options_.precision());
      if (mean_flow_sampler(s)) {
        const auto labels = y.slice(0, begin, end).to(device);
        transport::AverageVelocityModelFn u = [&](const torch::Tensor& x, const torch::Tensor& t, double h) {
          return transport::condition(interval_forward(model_, h), labels, guidance).model(x, t);
        };
        result = sampler.sample_mean_flow(state, u, s);
      } else {
        result = sampler.sample(state, conditioned.model, s, noise);
      }
    }
    parts.push_back(conditioned.samples(result.sample).to(torch::kCPU, torch::kFloat32));
    out.model_evaluations += result.model_evaluations;
    if (progress && !progress(end, n)) {
      throw Cancelled("generation cancelled after " + std::to_string(end) + " of " + std::to_string(n) + " samples");
    }
  }
  out.samples = parts.empty() ? torch::empty({0, shape[0], shape[1], shape[2]}) : torch::cat(parts);
  if (vae_) {
    out.latents = out.samples;
    out.samples = decode(out.latents);
  }
  return out;
}

// As sample.py: vae.decode(samples / 0.18215).sample, a slice of the batch at a time.
torch::Tensor Generator::decode(const torch::Tensor& latents) const {
  torch::InferenceMode inference;
  return vae_.ptr()->decode((latents / vae_->options.scaling_factor()).to(options_.device()),
                            options_.vae().slice_size).cpu();
}

void Generator::check_input(const torch::Tensor& x, int64_t n) const {
  const auto& arch = architecture();
  const std::vector<int64_t> expected = {n, arch.in_channels(), arch.input_size(), arch.input_size()};
  if (x.sizes() != torch::IntArrayRef(expected)) {
    throw std::invalid_argument("noise has shape " + text(x.sizes()) + ", the model and labels need " +
                                text(torch::IntArrayRef(expected)));
  }
}

transport::LikelihoodResult Generator::log_likelihood(const torch::Tensor& x, const torch::Tensor& labels) const {
  check_input(x, labels.size(0));
  transport::Sampler sampler{transport::Transport(transport_)};
  const auto& device = options_.device();
  auto conditioned = transport::condition(labelled_forward(model_), labels.to(torch::kInt64).to(device), std::nullopt);
  return sampler.sample_ode_likelihood(x.to(device), conditioned.model, options_.sampler());
}

}  // namespace sit
