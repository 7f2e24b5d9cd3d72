#include <sit/io/state_dict.h>
#include <sit/io/torch_load.h>
#include <sit/nn/presets.h>
#include "train/adamw.h"
#include "train/saved_config.h"
#include <sit/train/checkpoint_settings.h>
#include <sit/train/ema.h>
#include <sit/train/trainer.h>
#include "train/training_draws.h"
#include <sit/transport/guidance.h>
#include <sit/transport/mean_flow.h>
#include <sit/vae/vae_from_state_dict.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace sit::train {

namespace {

// parent[key] of a checkpoint, whose place `where` names ("opt.state"): a missing entry or one of
// another kind is a one-line error naming the file and the entry.
const io::Value& entry(const io::Value& parent, const std::string& key, const std::string& where,
                       const std::string& path, io::Value::Kind kind) {
  const std::string name = where.empty() ? key : where + "." + key;
  const io::Value* value = parent.is(io::Value::Kind::Dict) ? parent.to_dict().find(key) : nullptr;
  if (value == nullptr) throw std::runtime_error(path + ": not a sit-train checkpoint (no '" + name + "' entry)");
  if (!value->is(kind)) {
    throw std::runtime_error(path + ": '" + name + "' is a " + io::kind_name(value->kind()) + ", expected a " +
                             io::kind_name(kind));
  }
  return *value;
}

// A tensor entry that must have the shape `expected` (that of the parameter it belongs to).
torch::Tensor tensor_entry(const io::Value& parent, const std::string& key, const std::string& where,
                           const std::string& path, at::IntArrayRef expected) {
  const auto& tensor = entry(parent, key, where, path, io::Value::Kind::Tensor).to_tensor();
  if (tensor.sizes() != expected) {
    std::ostringstream message;
    message << path << ": '" << where << "." << key << "' has shape " << tensor.sizes() << ", the model needs "
            << expected;
    throw std::runtime_error(message.str());
  }
  return tensor;
}

// The (C, H, W) the model sees: the data's, or its latents' under the VAE.
std::array<int64_t, 3> model_input_shape(const std::array<int64_t, 3>& data, const vae::AutoencoderKL& vae,
                                         const std::string& vae_path) {
  if (!vae) return data;
  const auto& options = vae->options;
  int64_t f = options.downsample_factor();
  if (data[0] != options.in_channels() || data[1] % f != 0 || data[2] % f != 0) {
    throw config::ConfigError(config::setting("vae") + " " + vae_path + " encodes (" + std::to_string(options.in_channels()) +
                                ", H, W) images with H and W multiples of " + std::to_string(f) +
                                ", but the data is (" + std::to_string(data[0]) + ", " + std::to_string(data[1]) +
                                ", " + std::to_string(data[2]) + ")");
  }
  return {options.latent_channels(), data[1] / f, data[2] / f};
}

// Whether every gradient is finite, with one synchronisation for all of them and one read of each:
// a gradient's sum is non-finite when any element is (or when finite values overflow float in the
// sum, which no trainable gradient reaches), where isfinite().all() made five passes per parameter.
bool gradients_finite(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> sums;
  for (const auto& p : parameters) {
    if (p.grad().defined()) sums.push_back(p.grad().sum());
  }
  return sums.empty() || torch::isfinite(torch::stack(sums)).all().item<bool>();
}

// A new run's weights from a checkpoint (its EMA, else its model), every tensor matching. A
// MeanFlow model may start from a flow-matching checkpoint: its h_embedder's output layer is then
// zeroed, so that the model starts as u(z, t, h) = v(z, t) for every h.
void initialize_from(nn::SiTImpl& model, const std::string& path) {
  auto weights = io::read_state_dict(path);
  if (model.h_embedder && !weights.contains("h_embedder.mlp.0.weight")) {
    torch::NoGradGuard no_grad;
    auto output = model.h_embedder->mlp[2]->as<torch::nn::Linear>();
    output->weight.zero_();
    output->bias.zero_();
    for (const auto& item : io::state_dict(*model.h_embedder)) weights.insert("h_embedder." + item.key(), item.value());
  }
  io::load_state_dict(model, weights, path);
}

}  // namespace

Trainer::Trainer(TrainConfig config, std::shared_ptr<const data::Dataset> dataset,
                 std::shared_ptr<distributed::ProcessGroup> group)
    : config_(std::move(config)),
      device_((config_.validate(), config_.runtime.device)),
      precision_(config_.runtime.precision),
      dataset_(std::move(dataset)),
      group_(std::move(group)) {
  config::require(config_.optim.global_batch_size % world_size() == 0, "global_batch_size",
                  std::to_string(config_.optim.global_batch_size),
                  "is not divisible by the " + std::to_string(world_size()) + " ranks");
  if (config_.data.vae.given()) {  // before the seed, so the SiT's initialisation does not depend on it
    vae_ = config_.data.vae.load();
    vae_->to(device_);
  }
  if (config_.repa.enabled()) {  // before the seed as well: building the encoder draws
    const auto sit = config_.model.options(model_input_shape(dataset_->shape(), vae_, config_.data.vae.path),
                                           dataset_->num_classes());
    encoder_ = repa::load_encoder(config_.repa.encoder(), dataset_->shape(), sit.input_size() / sit.patch_size());
    encoder_->to(device_);
  }
  // Unlike train.py, the initialisation is seeded by global_seed on every rank, so a run starts
  // from the same weights whatever its rank count; rank 0's are broadcast all the same.
  torch::manual_seed(config_.optim.global_seed);
  auto shape = model_input_shape(dataset_->shape(), vae_, config_.data.vae.path);
  const bool channel_cosine = config_.transport.cosine_loss_weight() > 0 &&
                              config_.transport.cosine_loss_over() == transport::CosineLossOver::Channel;
  config::require(!channel_cosine || shape[0] > 1, "cosine_loss_over", "channel",
                  "compares 1-channel vectors, whose cosine is +-1 with no gradient: use patch or sample");
  model_ = nn::SiT(config_.model.options(shape, dataset_->num_classes()));
  transport_ = transport::Transport(config_.transport, model_->options.patch_size());
  if (!config_.run.init_from.empty()) initialize_from(*model_, config_.run.init_from);
  model_->to(device_);
  model_->train();
  if (encoder_) {  // drawn after the model, whose initialisation is then the same as without REPA
    const auto& o = model_->options;
    projector_ = repa::build_projector(o.hidden_size(), config_.repa.projector_dim(), encoder_->embed_dim());
    projector_->to(device_);
  }
  if (group_) distributed::broadcast_module(*model_, *group_);
  if (group_ && projector_) distributed::broadcast_module(*projector_, *group_);
  torch::manual_seed(config_.optim.global_seed * static_cast<uint64_t>(world_size()) +
                     static_cast<uint64_t>(rank()));
  ema_ = make_ema(model_);
  if (!config_.optim.phema_sigma_rel.empty()) phema_.emplace(model_, config_.optim.phema_sigma_rel);
  parameters_ = model_->parameters();
  if (projector_) {
    for (const auto& p : projector_->parameters()) parameters_.push_back(p);
  }
  step_counts_.resize(parameters_.size());
  optimizer_ = std::make_unique<torch::optim::AdamW>(parameters_, config_.optim.adamw_options());
  if (group_) gradient_buckets_ = std::make_unique<distributed::GradientBuckets>(parameters_, group_);
  loader_ = std::make_unique<data::DataLoader>(
      dataset_, data::DataLoaderOptions()
                    .batch_size(config_.optim.global_batch_size / world_size())
                    .seed(config_.optim.global_seed)
                    .num_workers(config_.data.num_workers)
                    .rank(rank())
                    .world_size(world_size())
                    .pin_memory(device_.is_cuda()));
  if (loader_->steps_per_epoch() == 0) {
    throw std::invalid_argument("the data set has " + std::to_string(dataset_->size()) +
                                " examples, fewer than one batch of " +
                                std::to_string(config_.optim.global_batch_size));
  }
  lr_schedule_ = LrScheduleOptions()
                     .schedule(config_.optim.lr_schedule)
                     .lr(config_.optim.lr)
                     .warmup_steps(config_.optim.warmup_steps)
                     .total_steps(total_steps())
                     .min_lr(config_.optim.min_lr);
}

int64_t Trainer::total_steps() const {
  const auto& o = config_.optim;
  return o.max_steps > 0 ? o.max_steps : o.epochs * loader_->steps_per_epoch();
}

double Trainer::current_lr() const { return learning_rate(lr_schedule_, train_steps_); }

double Trainer::train_step() {
  auto batch = loader_->next();
  auto x = batch.x.to(device_, /*non_blocking=*/true);  // (B, C, H, W)
  auto y = batch.y.to(device_, /*non_blocking=*/true);  // (B,)
  torch::Tensor z;  // (B, T, C_enc): REPA's encoder tokens of the images (train.py: no grad, autocast)
  if (encoder_) {
    nn::AutocastGuard autocast(device_, precision_);
    z = encoder_->encode(x);
  }
  if (vae_) {  // train.py: x = vae.encode(x).latent_dist.sample().mul_(0.18215), without gradients
    torch::NoGradGuard no_grad;
    x = vae_->encode(x).sample() * vae_->options.scaling_factor();  // (B, C', H / f, W / f)
  }
  const auto& o = model_->options;
  // Drawn where the model runs (a kernel on a GPU): no host work, no copy.
  auto draws = training_draws(config_.optim.global_seed, batch.epoch, batch.index,
                              {o.in_channels(), o.input_size(), o.input_size()}, config_.model.architecture.class_dropout_prob(),
                              device_, /*interval=*/o.meanflow());
  const auto& x0 = draws.noise;                         // (B, C, H, W), like x
  auto t = transport_.training_times(draws.t_uniform);  // (B,)
  c10::optional<torch::Tensor> drop;
  if (o.class_dropout_prob() > 0) drop = draws.drop;
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(current_lr());
  torch::Tensor hidden;  // (B, T, D): with REPA, the tokens after block repa_depth
  auto model_fn = [&](const torch::Tensor& xt, const torch::Tensor& t_plan) -> torch::Tensor {
    if (!projector_) return model_->forward(xt, t_plan, y, drop);
    auto [out, tokens] = model_->forward_with_hidden(xt, t_plan, y, config_.repa.depth(), drop);
    hidden = tokens;
    return out;
  };
  torch::Tensor loss;
  if (o.meanflow()) {  // in fp32, as py-meanflow's JVP and loss (autocast off)
    const auto keep = torch::zeros_like(y);  // the loss drops the labels itself
    transport::AverageVelocityFn u = [&](const torch::Tensor& z, const torch::Tensor& time, const torch::Tensor& h,
                                         const torch::Tensor& labels) {
      return model_->forward(z, time, labels, keep, h);
    };
    const auto times = transport::mean_flow_times(draws.interval_normals, draws.interval_uniforms, config_.mean_flow);
    loss = transport::mean_flow_loss(u, x, x0, times, y, drop.value_or(torch::Tensor()), o.num_classes(),
                                     config_.mean_flow)
               .loss.mean();
  } else {
    nn::AutocastGuard autocast(device_, precision_);
    loss = transport_.training_losses(model_fn, x, x0, t).loss.mean();
    if (projector_) {  // REPA's train.py: loss_mean + proj_coeff * proj_loss_mean
      repa_loss_ = repa::projection_loss(z, projector_->forward(hidden));
      loss = loss + config_.repa.proj_coeff() * repa_loss_;
      repa_loss_ = repa_loss_.detach();
    }
  }
  // Gradients set to none, as PyTorch 2.x's zero_grad(): backward then hands each parameter its
  // gradient, where zeroed ones cost a fill and an add per parameter.
  for (auto& p : parameters_) p.mutable_grad().reset();
  loss.backward();
  const double loss_value = loss.item<double>();
  if (!std::isfinite(loss_value)) {  // every rank then sees a non-finite averaged gradient
    for (auto& p : parameters_) {
      if (p.grad().defined()) p.mutable_grad().fill_(std::numeric_limits<float>::quiet_NaN());
    }
  }
  if (gradient_buckets_) gradient_buckets_->average_gradients();
  if (!gradients_finite(parameters_)) {
    ++train_steps_;
    ++bad_steps_;
    if (phema_) phema_->update(model_, train_steps_);
    if (++consecutive_bad_steps_ >= config_.run.max_bad_steps) {
      const int64_t last_good = train_steps_ - consecutive_bad_steps_;
      throw std::runtime_error("steps " + std::to_string(last_good + 1) + " to " + std::to_string(train_steps_) +
                               " all had a non-finite loss or gradient (" + config::flag("max_bad_steps") + " " +
                               std::to_string(config_.run.max_bad_steps) + "): stopping with the weights of step " +
                               std::to_string(last_good));
    }
    return loss_value;
  }
  consecutive_bad_steps_ = 0;
  if (config_.optim.grad_clip > 0) torch::nn::utils::clip_grad_norm_(parameters_, config_.optim.grad_clip);
  // ATen's fused kernel where it exists for the parameters' device, the one-pass loop on CPU,
  // the optimizer's own loop else.
  if (device_.is_cuda() && fused_adamw_available()) {
    fused_adamw_step(*optimizer_, parameters_, step_counts_);
  } else if (device_.is_cpu()) {
    cpu_adamw_step(*optimizer_, parameters_);
  } else {
    optimizer_->step();
  }
  update_ema(*ema_, *model_, config_.optim.ema_decay);
  ++train_steps_;
  if (phema_) phema_->update(model_, train_steps_);
  return loss_value;
}

void Trainer::save_checkpoint(const std::string& path) const {
  auto state = io::Value::dict();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto it = optimizer_->state().find(parameter_key(optimizer_->state(), parameters_[i]));
    if (it == optimizer_->state().end()) continue;  // no gradient yet (or ever: pos_embed)
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    auto moments = io::Value::dict();
    moments.to_dict().set("step", io::Value::integer(s.step()));
    moments.to_dict().set("exp_avg", io::Value::tensor(s.exp_avg().cpu()));
    moments.to_dict().set("exp_avg_sq", io::Value::tensor(s.exp_avg_sq().cpu()));
    state.to_dict().set(io::Value::integer(static_cast<int64_t>(i)), moments);
  }
  const auto& options =
      static_cast<const torch::optim::AdamWOptions&>(optimizer_->param_groups()[0].options());
  auto group = io::Value::dict();
  group.to_dict().set("lr", io::Value::floating(options.lr()));
  group.to_dict().set("betas", io::Value::tuple({io::Value::floating(std::get<0>(options.betas())),
                                                 io::Value::floating(std::get<1>(options.betas()))}));
  group.to_dict().set("eps", io::Value::floating(options.eps()));
  group.to_dict().set("weight_decay", io::Value::floating(options.weight_decay()));
  group.to_dict().set("amsgrad", io::Value::boolean(options.amsgrad()));
  io::List indices;
  for (size_t i = 0; i < parameters_.size(); ++i) indices.push_back(io::Value::integer(static_cast<int64_t>(i)));
  group.to_dict().set("params", io::Value::list(indices));
  auto opt = io::Value::dict();
  opt.to_dict().set("state", state);
  opt.to_dict().set("param_groups", io::Value::list({group}));

  auto train_state = io::Value::dict();
  train_state.to_dict().set("train_steps", io::Value::integer(train_steps_));
  train_state.to_dict().set("cpu_rng_state",
                            io::Value::tensor(at::detail::getDefaultCPUGenerator().get_state()));
  if (!device_.is_cpu()) {
    auto generator = at::globalContext().defaultGenerator(device_);
    train_state.to_dict().set("device_rng_state", io::Value::tensor(generator.get_state()));
  }

  auto root = io::Value::dict();
  auto model_state = io::state_dict(*model_);
  if (projector_) {
    for (const auto& item : io::state_dict(*projector_)) model_state.insert(repa::kProjectorPrefix + item.key(), item.value());
  }
  root.to_dict().set("model", io::state_dict_value(model_state));
  root.to_dict().set("ema", io::state_dict_value(io::state_dict(*ema_)));
  if (phema_) root.to_dict().set("phema", phema_->state_value());
  root.to_dict().set("opt", opt);
  root.to_dict().set("args", config_args(config_));
  root.to_dict().set("train_state", train_state);
  io::torch_save(root, path);
}

void Trainer::resume(const std::string& path) {
  using Kind = io::Value::Kind;
  auto root = io::torch_load(path);
  auto model_state = io::state_dict_from_value(entry(root, "model", "", path, Kind::Dict), path + " [model]");
  if (projector_) {  // "model" holds REPA's projector under projectors.0.
    io::StateDict sit, projector;
    const std::string prefix = repa::kProjectorPrefix;
    for (const auto& item : model_state) {
      if (item.key().rfind(prefix, 0) == 0) {
        projector.insert(item.key().substr(prefix.size()), item.value());
      } else {
        sit.insert(item.key(), item.value());
      }
    }
    io::load_state_dict(*projector_, projector, path + " [model, REPA's " + prefix + "*]");
    model_state = std::move(sit);
  }
  io::load_state_dict(*model_, model_state, path);
  io::load_state_dict(*ema_, io::state_dict_from_value(entry(root, "ema", "", path, Kind::Dict), path + " [ema]"), path);
  if (phema_) phema_->load_state_value(entry(root, "phema", "", path, Kind::Dict), path);

  const auto& state = entry(entry(root, "opt", "", path, Kind::Dict), "state", "opt", path, Kind::Dict).to_dict();
  for (const auto& [index, moments] : state.items) {
    if (!index.is(Kind::Int) || index.to_int() < 0 || index.to_int() >= static_cast<int64_t>(parameters_.size())) {
      throw std::runtime_error(path + ": 'opt.state' has an entry for parameter " +
                               (index.is(Kind::Int) ? std::to_string(index.to_int()) : io::kind_name(index.kind())) +
                               ", the model has " + std::to_string(parameters_.size()));
    }
    const auto& p = parameters_[index.to_int()];
    const std::string where = "opt.state." + std::to_string(index.to_int());
    if (!moments.is(Kind::Dict)) throw std::runtime_error(path + ": '" + where + "' is not a dict");
    const io::Value* step = moments.to_dict().find("step");
    if (step == nullptr || !(step->is(Kind::Int) || (step->is(Kind::Tensor) && step->to_tensor().numel() == 1))) {
      throw std::runtime_error(path + ": '" + where + ".step' is missing or not a step count");
    }
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(step->is(Kind::Tensor) ? static_cast<int64_t>(step->to_tensor().item<double>()) : step->to_int());
    s->exp_avg(tensor_entry(moments, "exp_avg", where, path, p.sizes()).to(p.options()).clone());
    s->exp_avg_sq(tensor_entry(moments, "exp_avg_sq", where, path, p.sizes()).to(p.options()).clone());
    optimizer_->state()[parameter_key(optimizer_->state(), p)] = std::move(s);
  }
  step_counts_.assign(parameters_.size(), torch::Tensor());

  const auto& train_state = entry(root, "train_state", "", path, Kind::Dict);
  train_steps_ = entry(train_state, "train_steps", "train_state", path, Kind::Int).to_int();
  if (train_steps_ < 0) throw std::runtime_error(path + ": 'train_state.train_steps' is negative");
  at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();
  try {
    cpu_generator.set_state(entry(train_state, "cpu_rng_state", "train_state", path, Kind::Tensor).to_tensor());
  } catch (const c10::Error&) {
    throw std::runtime_error(path + ": 'train_state.cpu_rng_state' is not a CPU generator state");
  }
  if (const auto* device_rng = train_state.to_dict().find("device_rng_state");
      device_rng != nullptr && device_rng->is(Kind::Tensor) && !device_.is_cpu()) {
    at::Generator device_generator = at::globalContext().defaultGenerator(device_);
    device_generator.set_state(device_rng->to_tensor());
  }
  loader_->seek(train_steps_ / loader_->steps_per_epoch(), train_steps_ % loader_->steps_per_epoch());
  bad_steps_ = 0;
  consecutive_bad_steps_ = 0;
}

TrainConfig read_checkpoint_config(const std::string& path) {
  const auto checkpoint = io::read_checkpoint(path);
  if (checkpoint.metadata.count(kConfigMetadataKey) != 0) {
    throw std::runtime_error(path + ": holds the weights only (sit-train's safetensors); a resume needs a checkpoint "
                                    "with the optimizer state, <results>/checkpoints/<step>.pt");
  }
  auto config = saved_train_config(checkpoint, path);
  if (!config) throw std::runtime_error(path + ": not a sit-train checkpoint (no saved configuration in 'args')");
  return *config;
}

}  // namespace sit::train
