#include <sit/io/state_dict.h>
#include <sit/io/torch_load.h>
#include <sit/nn/presets.h>
#include <sit/train/adamw.h>
#include <sit/train/ema.h>
#include <sit/train/trainer.h>
#include <sit/train/training_draws.h>
#include <sit/transport/guidance.h>
#include <sit/vae/vae_from_state_dict.h>

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace sit::train {

namespace {

// The "args" entry: the configuration as a Python dict, so torch.load shows it as one.
io::Value json_to_value(const nlohmann::json& json) {
  if (json.is_null()) return io::Value();
  if (json.is_boolean()) return io::Value::boolean(json.get<bool>());
  if (json.is_number_integer()) return io::Value::integer(json.get<int64_t>());
  if (json.is_number()) return io::Value::floating(json.get<double>());
  if (json.is_string()) return io::Value::string(json.get<std::string>());
  TORCH_CHECK(json.is_object(), "json_to_value: only flat objects are expected");
  auto dict = io::Value::dict();
  for (const auto& item : json.items()) dict.to_dict().set(item.key(), json_to_value(item.value()));
  return dict;
}

nlohmann::json value_to_json(const io::Value& value) {
  switch (value.kind()) {
    case io::Value::Kind::None: return nullptr;
    case io::Value::Kind::Bool: return value.to_bool();
    case io::Value::Kind::Int: return value.to_int();
    case io::Value::Kind::Float: return value.to_double();
    case io::Value::Kind::String: return value.to_string();
    default: throw std::runtime_error(std::string("unexpected ") + io::kind_name(value.kind()) +
                                      " in the training configuration");
  }
}

const io::Value& entry(const io::Value& root, const std::string& key, const std::string& path) {
  const io::Value* value = root.is(io::Value::Kind::Dict) ? root.to_dict().find(key) : nullptr;
  if (value == nullptr) {
    throw std::runtime_error(path + ": not a sit-train checkpoint (no '" + key + "' entry)");
  }
  return *value;
}

// The (C, H, W) the model sees: the data's, or its latents' under the VAE.
std::array<int64_t, 3> model_input_shape(const std::array<int64_t, 3>& data, const vae::AutoencoderKL& vae,
                                         const std::string& vae_path) {
  if (!vae) return data;
  const auto& options = vae->options;
  int64_t f = options.downsample_factor();
  if (data[0] != options.in_channels() || data[1] % f != 0 || data[2] % f != 0) {
    throw std::invalid_argument("--vae " + vae_path + " encodes (" + std::to_string(options.in_channels()) +
                                ", H, W) images with H and W multiples of " + std::to_string(f) +
                                ", but the data is (" + std::to_string(data[0]) + ", " + std::to_string(data[1]) +
                                ", " + std::to_string(data[2]) + ")");
  }
  return {options.latent_channels(), data[1] / f, data[2] / f};
}

}  // namespace

nn::SiTOptions model_options(const TrainConfig& c, std::array<int64_t, 3> shape, int64_t num_classes) {
  auto options = c.model.empty() ? nn::SiTOptions()
                                       .patch_size(c.patch_size)
                                       .depth(c.depth)
                                       .hidden_size(c.hidden_size)
                                       .num_heads(c.num_heads)
                                       .mlp_ratio(c.mlp_ratio)
                                 : nn::sit_preset(c.model);
  if (shape[1] != shape[2]) {
    throw std::invalid_argument("SiT needs square inputs, but the data is " + std::to_string(shape[1]) +
                                "x" + std::to_string(shape[2]));
  }
  if (shape[1] % options.patch_size() != 0) {
    throw std::invalid_argument("image size " + std::to_string(shape[1]) +
                                " is not a multiple of the patch size " +
                                std::to_string(options.patch_size()));
  }
  if (options.hidden_size() % options.num_heads() != 0) {
    throw std::invalid_argument("hidden size " + std::to_string(options.hidden_size()) +
                                " is not a multiple of the number of heads " +
                                std::to_string(options.num_heads()));
  }
  return options.input_size(shape[1])
      .in_channels(shape[0])
      .num_classes(num_classes)
      .class_dropout_prob(c.class_dropout_prob)
      .learn_sigma(c.learn_sigma);
}

Trainer::Trainer(TrainConfig config, std::shared_ptr<const data::Dataset> dataset,
                 std::shared_ptr<distributed::ProcessGroup> group)
    : config_(std::move(config)),
      device_(config_.device),
      precision_(nn::parse_precision(config_.precision)),
      dataset_(std::move(dataset)),
      group_(std::move(group)),
      transport_(transport::create_transport(config_.path_type, config_.prediction, config_.loss_weight,
                                                   config_.train_eps, config_.sample_eps)) {
  if (config_.global_batch_size % world_size() != 0) {
    throw std::invalid_argument("global batch size " + std::to_string(config_.global_batch_size) +
                                " is not divisible by the " + std::to_string(world_size()) +
                                " ranks");
  }
  if (!config_.vae.empty()) {  // before the seed, so the SiT's initialisation does not depend on it
    vae_ = vae::load_vae(config_.vae);
    vae_->to(device_);
  }
  // Unlike train.py, the initialisation is seeded by global_seed on every rank, so a run starts
  // from the same weights whatever its rank count; rank 0's are broadcast all the same.
  torch::manual_seed(config_.global_seed);
  auto shape = model_input_shape(dataset_->shape(), vae_, config_.vae);
  model_ = nn::SiT(model_options(config_, shape, dataset_->num_classes()));
  model_->to(device_);
  model_->train();
  if (group_) distributed::broadcast_module(*model_, *group_);
  torch::manual_seed(config_.global_seed * static_cast<uint64_t>(world_size()) +
                     static_cast<uint64_t>(rank()));
  ema_ = std::dynamic_pointer_cast<nn::SiTImpl>(model_->clone(device_));
  for (auto& p : ema_->parameters()) p.set_requires_grad(false);
  ema_->eval();
  parameters_ = model_->parameters();
  step_counts_.resize(parameters_.size());
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      parameters_, torch::optim::AdamWOptions(config_.lr).weight_decay(config_.weight_decay));
  if (group_) gradient_buckets_ = std::make_unique<distributed::GradientBuckets>(parameters_, group_);
  loader_ = std::make_unique<data::DataLoader>(
      dataset_, data::DataLoaderOptions()
                    .batch_size(config_.global_batch_size / world_size())
                    .seed(config_.global_seed)
                    .num_workers(config_.num_workers)
                    .rank(rank())
                    .world_size(world_size())
                    .pin_memory(device_.is_cuda()));
  if (loader_->steps_per_epoch() == 0) {
    throw std::invalid_argument("the data set has " + std::to_string(dataset_->size()) +
                                " examples, fewer than one batch of " +
                                std::to_string(config_.global_batch_size));
  }
  lr_schedule_ = LrScheduleOptions()
                     .schedule(parse_lr_schedule(config_.lr_schedule))
                     .lr(config_.lr)
                     .warmup_steps(config_.warmup_steps)
                     .total_steps(total_steps())
                     .min_lr(config_.min_lr);
}

int64_t Trainer::total_steps() const {
  return config_.max_steps > 0 ? config_.max_steps : config_.epochs * loader_->steps_per_epoch();
}

double Trainer::current_lr() const { return learning_rate(lr_schedule_, train_steps_); }

double Trainer::train_step() {
  auto batch = loader_->next();
  auto x = batch.x.to(device_, /*non_blocking=*/true);  // (B, C, H, W)
  auto y = batch.y.to(device_, /*non_blocking=*/true);  // (B,)
  if (vae_) {  // train.py: x = vae.encode(x).latent_dist.sample().mul_(0.18215), without gradients
    torch::NoGradGuard no_grad;
    x = vae_->encode(x).sample() * vae_->options.scaling_factor();  // (B, C', H / f, W / f)
  }
  const auto& o = model_->options;
  auto draws = training_draws(config_.global_seed, batch.epoch, batch.index,
                              {o.in_channels(), o.input_size(), o.input_size()}, config_.class_dropout_prob);
  auto x0 = draws.noise.to(device_, /*non_blocking=*/true);  // (B, C, H, W), like x
  auto [t0, t1] = transport_.check_interval();
  auto t = (draws.t_uniform * (t1 - t0) + t0).to(device_);  // (B,)
  c10::optional<torch::Tensor> drop;
  if (o.class_dropout_prob() > 0) drop = draws.drop.to(device_);
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(current_lr());
  auto model_fn = [&](const torch::Tensor& xt, const torch::Tensor& t_plan) {
    return model_->forward(xt, t_plan, y, drop);
  };
  torch::Tensor loss;
  {
    nn::AutocastGuard autocast(device_, precision_);
    loss = transport_.training_losses(model_fn, x, x0, t).loss.mean();
  }
  optimizer_->zero_grad();
  loss.backward();
  if (gradient_buckets_) gradient_buckets_->average_gradients();
  if (config_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(parameters_, config_.grad_clip);
  // ATen's fused kernel where it exists for the parameters' device; the per-parameter loop else.
  if (device_.is_cuda() && fused_adamw_available()) {
    fused_adamw_step(*optimizer_, parameters_, step_counts_);
  } else {
    optimizer_->step();
  }
  update_ema(*ema_, *model_, config_.ema_decay);
  ++train_steps_;
  return loss.item<double>();
}

torch::Tensor Trainer::sample(const torch::Tensor& z, const torch::Tensor& y) const {
  torch::NoGradGuard no_grad;
  std::shared_ptr<nn::SiTImpl> ema = ema_.ptr();
  transport::LabelledForward forward = [ema](const torch::Tensor& x, const torch::Tensor& t,
                                             const torch::Tensor& labels) {
    return ema->forward(x, t, labels);
  };
  bool guided = config_.cfg_scale > 1.0 && ema_->options.class_dropout_prob() > 0;
  auto labels = y.to(device_);
  transport::ModelFn model_fn =
      guided ? transport::classifier_free_guidance(
                   forward, labels,
                   transport::GuidanceOptions(config_.cfg_scale, ema_->options.num_classes()))
             : transport::ModelFn([&](const torch::Tensor& x, const torch::Tensor& t) {
                 return forward(x, t, labels);
               });
  transport::Sampler sampler(transport_);
  nn::AutocastGuard autocast(device_, precision_);
  auto result = sampler.sample_ode(z.to(device_), model_fn,
                                   transport::OdeSamplerOptions()
                                       .sampling_method(transport::parse_ode_method(config_.sample_method))
                                       .num_steps(config_.sample_steps));
  return result.sample.cpu();
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
  root.to_dict().set("model", state_dict_value(state_dict(*model_)));
  root.to_dict().set("ema", state_dict_value(state_dict(*ema_)));
  root.to_dict().set("opt", opt);
  root.to_dict().set("args", json_to_value(nlohmann::json::parse(config_.to_json())));
  root.to_dict().set("train_state", train_state);
  io::torch_save(root, path);
}

void Trainer::resume(const std::string& path) {
  auto root = io::torch_load(path);
  load_state_dict(*model_, state_dict_from_value(entry(root, "model", path), path + " [model]"),
                  path);
  load_state_dict(*ema_, state_dict_from_value(entry(root, "ema", path), path + " [ema]"), path);

  const auto& state = entry(entry(root, "opt", path), "state", path).to_dict();
  for (const auto& [index, moments] : state.items) {
    auto i = index.to_int();
    if (i < 0 || i >= static_cast<int64_t>(parameters_.size())) {
      throw std::runtime_error(path + ": optimizer state for parameter " + std::to_string(i) +
                               ", the model has " + std::to_string(parameters_.size()));
    }
    const auto& p = parameters_[i];
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    const auto& m = moments.to_dict();
    const auto* step = m.find("step");
    s->step(step->is(io::Value::Kind::Tensor) ? static_cast<int64_t>(step->to_tensor().item<double>())
                                              : step->to_int());
    s->exp_avg(m.find("exp_avg")->to_tensor().to(p.options()).clone());
    s->exp_avg_sq(m.find("exp_avg_sq")->to_tensor().to(p.options()).clone());
    optimizer_->state()[parameter_key(optimizer_->state(), p)] = std::move(s);
  }
  step_counts_.assign(parameters_.size(), torch::Tensor());

  const auto& train_state = entry(root, "train_state", path);
  train_steps_ = entry(train_state, "train_steps", path).to_int();
  at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();
  cpu_generator.set_state(entry(train_state, "cpu_rng_state", path).to_tensor());
  if (const auto* device_rng = train_state.to_dict().find("device_rng_state");
      device_rng != nullptr && !device_.is_cpu()) {
    at::Generator device_generator = at::globalContext().defaultGenerator(device_);
    device_generator.set_state(device_rng->to_tensor());
  }
  loader_->seek(train_steps_ / loader_->steps_per_epoch(), train_steps_ % loader_->steps_per_epoch());
}

TrainConfig read_checkpoint_config(const std::string& path) {
  auto root = io::torch_load(path);
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, value] : entry(root, "args", path).to_dict().items) {
    json[key.to_string()] = value_to_json(value);
  }
  return TrainConfig::from_json(json.dump());
}

}  // namespace sit::train
