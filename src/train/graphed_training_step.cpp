#include <sit/train/graphed_training_step.h>
#include <sit/error.h>

#include <torch/version.h>

#include <stdexcept>

// Graph capture needs LibTorch 2.x; the fused AdamW kernel's tensor learning rate (read on the
// device, so that a schedule needs no recapture) arrived in 2.2.
#if defined(SIT_WITH_CUDA) && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2))
#define SIT_GRAPHED_TRAINING 1
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>
#endif

namespace sit::train {

bool GraphedTrainingStep::available() {
#ifdef SIT_GRAPHED_TRAINING
  return true;
#else
  return false;
#endif
}

#ifdef SIT_GRAPHED_TRAINING
namespace {

// Autocast's cache of bf16 weight copies off for a scope: a copy cached during capture would be
// the graph's memory, and one cached before it would be read as a constant by every replay.
class AutocastCacheOff {
 public:
  AutocastCacheOff() : previous_(at::autocast::is_autocast_cache_enabled()) {
    at::autocast::set_autocast_cache_enabled(false);
  }
  ~AutocastCacheOff() { at::autocast::set_autocast_cache_enabled(previous_); }
  AutocastCacheOff(const AutocastCacheOff&) = delete;
  AutocastCacheOff& operator=(const AutocastCacheOff&) = delete;

 private:
  bool previous_;
};

void check_shape(const char* name, const torch::Tensor& given, const torch::Tensor& buffer) {
  TORCH_CHECK(given.defined() && given.sizes() == buffer.sizes(), "GraphedTrainingStep: batch.", name,
              " must be shaped ", buffer.sizes(), ", but is ",
              given.defined() ? c10::str(given.sizes()) : std::string("undefined"));
}

}  // namespace

// The graph, the buffers its kernels read and write, and the optimizer state it updates.
struct GraphedTrainingStep::Captured {
  nn::SiT model;
  nn::SiT ema;
  transport::Transport transport;
  GraphedTrainingStepOptions options;
  torch::Tensor x, y, x0, t, drop;  // the batch: (B, C, H, W), (B,), (B, C, H, W), (B,), (B,) or undefined
  std::vector<std::string> names;   // of the trained parameters, for errors
  std::vector<torch::Tensor> params, exp_avgs, exp_avg_sqs, steps;  // AdamW's, steps () float32
  std::vector<torch::Tensor> ema_targets, ema_sources;              // matched by name, as update_ema
  torch::Tensor lr, one;  // () float32: the learning rate, the unit inverse scale of the check
  GraphedStepOutputs outputs;
  std::unique_ptr<at::cuda::CUDAGraph> graph;

  Captured(nn::SiT model_, nn::SiT ema_, transport::Transport transport_, GraphedTrainingStepOptions options_)
      : model(std::move(model_)), ema(std::move(ema_)), transport(std::move(transport_)), options(options_) {
    const auto& adamw = options.adamw();
    TORCH_CHECK(!adamw.amsgrad(), "GraphedTrainingStep: amsgrad is not supported");
    TORCH_CHECK(options.batch_size() > 0, "GraphedTrainingStep: batch_size must be positive, not ",
                options.batch_size());
    const auto& o = model->options;
    auto device = model->pos_embed.device();
    if (!device.is_cuda()) {
      throw std::invalid_argument("GraphedTrainingStep needs a model on a CUDA device, not " + device.str());
    }
    const int64_t B = options.batch_size();
    auto on_device = torch::TensorOptions(device);
    auto scalar = on_device.dtype(torch::kFloat32);
    x = torch::zeros({B, o.in_channels(), o.input_size(), o.input_size()}, scalar);
    x0 = torch::zeros_like(x);
    y = torch::zeros({B}, on_device.dtype(torch::kLong));
    // Mid-interval times: the warm-up's values do not matter, but an end of it can be singular.
    auto [t0, t1] = transport.check_interval();
    t = torch::full({B}, (t0 + t1) / 2, scalar);
    if (o.class_dropout_prob() > 0) drop = torch::zeros({B}, on_device.dtype(torch::kLong));

    for (const auto& item : model->named_parameters()) {
      const auto& p = item.value();
      if (!p.requires_grad()) continue;  // pos_embed: fixed
      TORCH_CHECK(p.device() == device, "GraphedTrainingStep: parameter '", item.key(), "' is on ", p.device(),
                  ", the model's pos_embed on ", device);
      names.push_back(item.key());
      params.push_back(p);
      exp_avgs.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      exp_avg_sqs.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      steps.push_back(torch::zeros({}, scalar));
    }
    auto ema_params = ema->named_parameters();
    for (const auto& item : model->named_parameters()) {
      auto* target = ema_params.find(item.key());
      TORCH_CHECK(target != nullptr, "GraphedTrainingStep: the EMA model has no parameter '", item.key(), "'");
      TORCH_CHECK(target->device() == device, "GraphedTrainingStep: the EMA's '", item.key(), "' is on ",
                  target->device(), ", the model on ", device);
      // Module::clone(device) of a model already on cuda:0 with device "cuda" makes such an EMA.
      TORCH_CHECK(!target->is_alias_of(item.value()), "GraphedTrainingStep: the EMA's '", item.key(),
                  "' shares the model's memory");
      ema_targets.push_back(*target);
      ema_sources.push_back(item.value());
    }
    lr = torch::full({}, adamw.lr(), scalar);
    one = torch::ones({}, scalar);
    outputs.found_inf = torch::zeros({}, scalar);
    capture();
  }

  ~Captured() {
    // The gradients are the graph's buffers: without it they mean nothing, and dropping them
    // lets its memory go.
    for (auto& p : params) p.mutable_grad().reset();
  }

  // Trainer::train_step on the buffers. With `update` false the update is switched off
  // (found_inf forced to 1), so warm-up runs every kernel without moving the weights, moments,
  // step counts or EMA the caller gave. Returns the loss: () float32.
  torch::Tensor run(bool update) {
    torch::Tensor loss;
    {
      nn::AutocastGuard autocast(x.device(), options.precision());
      c10::optional<torch::Tensor> drop_ids;
      if (drop.defined()) drop_ids = drop;
      auto model_fn = [&](const torch::Tensor& xt, const torch::Tensor& t_plan) {
        return model->forward(xt, t_plan, y, drop_ids);
      };
      loss = transport.training_losses(model_fn, x, x0, t).loss.mean();
    }
    loss.backward();
    torch::NoGradGuard no_grad;
    loss = loss.detach().to(torch::kFloat32);
    std::vector<torch::Tensor> grads;
    for (size_t i = 0; i < params.size(); ++i) {
      TORCH_CHECK(params[i].grad().defined(), "GraphedTrainingStep: parameter '", names[i],
                  "' gets no gradient from the loss");
      grads.push_back(params[i].grad());
    }
    // The trainer's skip without its host synchronisation: one pass over the gradients and the
    // loss sets found_inf on the device (multiplying by one), and the updates below read it.
    // The kernel only ever sets found_inf, so it is cleared first.
    auto& found_inf = outputs.found_inf;
    found_inf.zero_();
    std::vector<torch::Tensor> checked = grads;
    checked.push_back(loss);
    at::_amp_foreach_non_finite_check_and_unscale_(checked, found_inf, one);
    if (!update) found_inf.fill_(1);
    auto applied = 1 - found_inf;  // (): 1 for a step taken, 0 for one skipped
    // The fused kernel reads the step counts after the increment and returns early under
    // found_inf, so a skipped step leaves the counts, moments and weights alone.
    torch::_foreach_add_(steps, std::vector<torch::Tensor>(steps.size(), applied));
    const auto& adamw = options.adamw();
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr,
                      std::get<0>(adamw.betas()), std::get<1>(adamw.betas()), adamw.weight_decay(), adamw.eps(),
                      /*amsgrad=*/false, /*maximize=*/false, /*grad_scale=*/c10::nullopt, found_inf);
    // ema <- keep * ema + add * model: update_ema's (decay, 1 - decay) for a step taken, exactly
    // (1, 0) for one skipped (the model's weights are finite: no step ever made them otherwise).
    auto add = applied * (1 - options.ema_decay());  // ()
    auto keep = 1 - add;                             // ()
    torch::_foreach_mul_(ema_targets, keep);
    torch::_foreach_add_(ema_targets, torch::_foreach_mul(ema_sources, add));
    return loss;
  }

  // PyTorch's whole-network capture: warm-up on a side stream (cuBLAS handles and workspaces,
  // the autograd engine's device thread and kernel choices are made there, not during capture),
  // gradients set to none so that the capture allocates them from the graph's pool, where they
  // stay for every replay.
  void capture() {
    torch::cuda::synchronize();
    {
      c10::cuda::CUDAStreamGuard side_stream(c10::cuda::getStreamFromPool(false, x.device().index()));
      AutocastCacheOff no_cache;
      for (int i = 0; i < 3; ++i) {
        for (auto& p : params) p.mutable_grad().reset();
        run(/*update=*/false);
      }
      torch::cuda::synchronize();
      for (auto& p : params) p.mutable_grad().reset();
      graph = std::make_unique<at::cuda::CUDAGraph>();
      graph->capture_begin();
      try {
        outputs.loss = run(/*update=*/true);
      } catch (...) {
        // End the capture so the stream can run work again, then report the step's error.
        try {
          graph->capture_end();
        } catch (...) {
        }
        graph.reset();
        throw;
      }
      graph->capture_end();
    }
    torch::cuda::synchronize();
  }
};

GraphedTrainingStep::GraphedTrainingStep(nn::SiT model, nn::SiT ema, transport::Transport transport,
                                         GraphedTrainingStepOptions options)
    : captured_(std::make_unique<Captured>(std::move(model), std::move(ema), std::move(transport), options)) {}

const GraphedStepOutputs& GraphedTrainingStep::step(const TrainingBatch& batch) {
  auto& c = *captured_;
  check_shape("x", batch.x, c.x);
  check_shape("y", batch.y, c.y);
  check_shape("x0", batch.x0, c.x0);
  check_shape("t", batch.t, c.t);
  TORCH_CHECK(batch.drop.defined() == c.drop.defined(), "GraphedTrainingStep: batch.drop must be ",
              c.drop.defined() ? "given: the model drops labels" : "undefined: the model has no class dropout");
  if (c.drop.defined()) check_shape("drop", batch.drop, c.drop);
  c10::cuda::CUDAGuard device(c.x.device());
  c.x.copy_(batch.x, /*non_blocking=*/true);
  c.y.copy_(batch.y, /*non_blocking=*/true);
  c.x0.copy_(batch.x0, /*non_blocking=*/true);
  c.t.copy_(batch.t, /*non_blocking=*/true);
  if (c.drop.defined()) c.drop.copy_(batch.drop, /*non_blocking=*/true);
  c.graph->replay();
  return c.outputs;
}

void GraphedTrainingStep::set_lr(double lr) { captured_->lr.fill_(lr); }

#else
struct GraphedTrainingStep::Captured {};

namespace {
[[noreturn]] void refuse() {
  throw UnsupportedError(
      "a graphed training step needs sit built against a CUDA LibTorch 2.2 or later; this build has none");
}
}  // namespace

GraphedTrainingStep::GraphedTrainingStep(nn::SiT, nn::SiT, transport::Transport, GraphedTrainingStepOptions) {
  refuse();
}
const GraphedStepOutputs& GraphedTrainingStep::step(const TrainingBatch&) { refuse(); }
void GraphedTrainingStep::set_lr(double) { refuse(); }
#endif

GraphedTrainingStep::~GraphedTrainingStep() = default;

}  // namespace sit::train
