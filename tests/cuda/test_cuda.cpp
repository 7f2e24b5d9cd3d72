// The CUDA paths: the forward against the official fixture on the GPU, bf16 autocast against
// fp32, a CUDA-graph replay against the eager call, a training step with bf16 autocast, and a
// training step replayed from a CUDA graph against the eager one. Without a GPU (or in a CPU
// build of LibTorch) the GPU cases report that they skip, and what runs is the CPU-build
// behaviour: CUDA graphs refused with a clear error.
#include "support/catch_torch.h"
#include <sit/nn/precision.h>
#include <sit/nn/sit_from_state_dict.h>
#include "train/adamw.h"
#include <sit/train/ema.h>
#include <sit/train/graphed_training_step.h>
#include <sit/train/trainer.h>
#include <sit/transport/graphed_forward.h>

#include "support/fixture_case.h"
#include "support/skip.h"

#include <array>

#include <cmath>
#include <limits>

using namespace sit::test;

namespace {

const char* kCase = "ode_linear_velocity_heun2_cfg4";

}  // namespace

TEST_CASE("CUDA graphs are refused with a clear error where the build has none", "[cuda]") {
  if (sit::transport::cuda_graphs_available()) SIT_SKIP("this build has CUDA graphs: there is no refusal to check");
  sit::transport::LabelledForward identity = [](const torch::Tensor& x, const torch::Tensor&,
                                                const torch::Tensor&) { return x; };
  CHECK_THROWS_WITH(sit::transport::cuda_graphed(identity),
                    Catch::Contains("CUDA graphs need sit built against a CUDA LibTorch"));
}

TEST_CASE("the forward on the GPU matches the official model (TF32 off)", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  sit::nn::set_matmul_precision(sit::nn::Precision::FP32);
  torch::NoGradGuard no_grad;
  auto dir = fixture_dir(kCase);
  auto json = read_case_json(dir);
  auto model = sit::nn::load_sit(dir + "/ckpt.pt", sit::nn::ArchitectureHints().num_heads(
                                                       json["model"]["num_heads"].get<int64_t>()));
  model->to(torch::kCUDA);
  auto x = read_case_npy(dir, "noise").cuda();
  auto y = read_case_npy(dir, "labels").cuda();
  auto t = torch::tensor(json["forward_t"].get<std::vector<float>>()).cuda();
  // Float32 on another device: summation order differs, so 1e-5 as on the CPU.
  CHECK(relative_l2(model->forward(x, t, y).cpu(), read_case_npy(dir, "forward")) < 1e-5);

  SECTION("bf16 autocast stays within bf16 rounding of fp32") {
    torch::Tensor bf16;
    {
      sit::nn::AutocastGuard autocast(torch::kCUDA, sit::nn::Precision::BF16);
      bf16 = model->forward(x, t, y);
    }
    CHECK(bf16.scalar_type() == torch::kBFloat16);
    // bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 2e-3) over a few layers.
    CHECK(relative_l2(bf16.cpu(), read_case_npy(dir, "forward")) < 3e-2);
  }

  SECTION("a CUDA-graph replay equals the eager call, for new inputs too") {
    if (!sit::transport::cuda_graphs_available()) SIT_SKIP("this build has no CUDA graphs");
    std::shared_ptr<sit::nn::SiTImpl> sit = model.ptr();
    sit::transport::LabelledForward eager = [sit](const torch::Tensor& a, const torch::Tensor& b,
                                                  const torch::Tensor& c) { return sit->forward(a, b, c); };
    auto graphed = sit::transport::cuda_graphed(eager);
    CHECK(torch::equal(graphed(x, t, y), eager(x, t, y)));
    auto x2 = torch::randn_like(x), t2 = torch::rand_like(t);
    auto first = graphed(x2, t2, y);
    CHECK(torch::equal(first, eager(x2, t2, y)));
    graphed(x, t, y);  // the returned tensor is a copy: a later replay leaves it alone
    CHECK(torch::equal(first, eager(x2, t2, y)));
  }
}

namespace {
class ConstantData : public sit::data::Dataset {
 public:
  size_t size() const override { return 16; }
  sit::data::Example get(size_t index, std::mt19937_64&) const override {
    return {torch::full({1, 8, 8}, static_cast<float>(index % 4) / 4 - 0.5f), static_cast<int64_t>(index % 2)};
  }
  int64_t num_classes() const override { return 2; }
  std::array<int64_t, 3> shape() const override { return {1, 8, 8}; }
};
}  // namespace

TEST_CASE("the loader pins its batches for non-blocking copies when asked", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  sit::data::DataLoader loader(std::make_shared<ConstantData>(),
                               sit::data::DataLoaderOptions().batch_size(4).num_workers(1).pin_memory(true));
  auto batch = loader.next();
  CHECK(batch.x.is_pinned());
  CHECK(batch.y.is_pinned());
  CHECK(torch::equal(batch.x.to(torch::kCUDA, /*non_blocking=*/true).cpu(), batch.x));
}

TEST_CASE("a training step on the GPU with bf16 autocast keeps fp32 weights and moves them", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  sit::train::TrainConfig config;
  config.model.model = "";
  config.model.architecture.patch_size(2);
  config.model.architecture.depth(2);
  config.model.architecture.hidden_size(32);
  config.model.architecture.num_heads(2);
  config.optim.global_batch_size = 8;
  config.optim.max_steps = 3;
  config.optim.lr = 1e-3;
  config.data.num_workers = 1;
  config.runtime.device = "cuda";
  config.runtime.precision = sit::nn::Precision::BF16;
  sit::train::Trainer trainer(config, std::make_shared<ConstantData>());
  // The EMA is a copy of the weights under --device cuda, not the weights themselves.
  auto model_params = trainer.model()->parameters(), ema_params = trainer.ema()->parameters();
  for (size_t i = 0; i < model_params.size(); ++i) CHECK_FALSE(ema_params[i].is_alias_of(model_params[i]));
  auto before = trainer.model()->blocks->ptr(0)->named_parameters()["attn.qkv.weight"].clone();
  for (int i = 0; i < 3; ++i) CHECK(std::isfinite(trainer.train_step()));
  auto after = trainer.model()->blocks->ptr(0)->named_parameters()["attn.qkv.weight"];
  CHECK(after.scalar_type() == torch::kFloat32);
  CHECK(after.is_cuda());
  CHECK_FALSE(torch::equal(before, after));
}

TEST_CASE("the fused AdamW step equals torch::optim::AdamW's loop", "[cuda]") {
  if (!sit::train::fused_adamw_available()) {
    std::vector<torch::Tensor> none;
    torch::optim::AdamW optimizer(std::vector<torch::Tensor>{torch::zeros({1}, torch::requires_grad())});
    CHECK_THROWS_WITH(sit::train::fused_adamw_step(optimizer, none, none),
                      Catch::Contains("the fused AdamW kernel needs LibTorch 2.1"));
    return;
  }
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  torch::manual_seed(0);
  auto cuda = torch::TensorOptions(torch::kCUDA);
  std::vector<torch::Tensor> looped = {torch::randn({7, 5}, cuda), torch::randn({3}, cuda)};
  std::vector<torch::Tensor> fused;
  for (auto& p : looped) {
    p.set_requires_grad(true);
    fused.push_back(p.detach().clone().set_requires_grad(true));
  }
  auto options = torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).weight_decay(0.1);  // LightningDiT's beta2
  torch::optim::AdamW loop_optimizer(looped, options), fused_optimizer(fused, options);
  std::vector<torch::Tensor> step_counts(fused.size());
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < looped.size(); ++i) {
      auto grad = torch::randn_like(looped[i]);
      looped[i].mutable_grad() = grad.clone();
      fused[i].mutable_grad() = grad.clone();
    }
    loop_optimizer.step();
    sit::train::fused_adamw_step(fused_optimizer, fused, step_counts);
  }
  for (size_t i = 0; i < looped.size(); ++i) {
    // The same float32 update in another kernel: agreement to rounding.
    CHECK((looped[i] - fused[i]).abs().max().item<double>() < 1e-6);
    const auto& state = fused_optimizer.state();
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(
        *state.at(sit::train::parameter_key(state, fused[i])));
    CHECK(s.step() == 3);
  }
}

namespace {

// A SiT small enough for a test: 16 tokens of width 32, two blocks, labels {0, 1} and the null one.
sit::nn::SiTOptions tiny_sit() {
  return sit::nn::SiTOptions().input_size(8).patch_size(2).in_channels(1).hidden_size(32).depth(2).num_heads(2)
      .num_classes(2);
}

// A trainable deep copy on the model's device (clone() without a device: see make_ema).
sit::nn::SiT copy_of(const sit::nn::SiT& model) {
  return std::dynamic_pointer_cast<sit::nn::SiTImpl>(model->clone());
}

// A model on the GPU whose zero-initialised layers (adaLN, final layer) are perturbed, so that
// every weight has a gradient from the first step and every kernel of the step matters.
sit::nn::SiT perturbed_model() {
  torch::manual_seed(0);
  sit::nn::SiT model(tiny_sit());
  model->to(torch::kCUDA);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) {
    if (p.requires_grad()) p.add_(torch::randn_like(p) * 0.02);
  }
  return model;
}

// A batch as the trainer's draws make one, on the GPU: data and noise (8, 1, 8, 8), times on
// [0, 1) (the linear path's training interval), labels and about half of them dropped.
sit::train::TrainingBatch random_batch(uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t B = 8;
  return {torch::randn({B, 1, 8, 8}).cuda(), torch::randint(2, {B}, torch::kLong).cuda(),
          torch::randn({B, 1, 8, 8}).cuda(), torch::rand({B}).cuda(),
          (torch::rand({B}) < 0.5).to(torch::kLong).cuda()};
}

// Trainer::train_step's arithmetic on CUDA for a finite batch (fp32): loss, gradients set to
// none before backward, ATen's fused AdamW, update_ema. Returns the loss.
double eager_step(sit::nn::SiT& model, sit::nn::SiT& ema, torch::optim::AdamW& optimizer,
                  std::vector<torch::Tensor>& step_counts, const sit::train::TrainingBatch& batch, double ema_decay) {
  c10::optional<torch::Tensor> drop = batch.drop;
  auto model_fn = [&](const torch::Tensor& xt, const torch::Tensor& t) {
    return model->forward(xt, t, batch.y, drop);
  };
  auto loss = sit::transport::Transport().training_losses(model_fn, batch.x, batch.x0, batch.t).loss.mean();
  auto parameters = model->parameters();
  for (auto& p : parameters) p.mutable_grad().reset();
  loss.backward();
  sit::train::fused_adamw_step(optimizer, parameters, step_counts);
  sit::train::update_ema(*ema, *model, ema_decay);
  return loss.item<double>();
}

// The largest difference between same-named parameters of two models.
double max_difference(const sit::nn::SiT& a, const sit::nn::SiT& b) {
  auto b_params = b->named_parameters();
  double worst = 0;
  for (const auto& item : a->named_parameters()) {
    worst = std::max(worst, (item.value() - b_params[item.key()]).abs().max().item<double>());
  }
  return worst;
}

std::vector<torch::Tensor> snapshot(const sit::nn::SiT& model) {
  std::vector<torch::Tensor> copies;
  for (const auto& p : model->parameters()) copies.push_back(p.detach().clone());
  return copies;
}

bool unchanged(const sit::nn::SiT& model, const std::vector<torch::Tensor>& before) {
  auto now = model->parameters();
  for (size_t i = 0; i < now.size(); ++i) {
    if (!torch::equal(now[i], before[i])) return false;
  }
  return true;
}

const auto kAdamW = torch::optim::AdamWOptions(1e-3).weight_decay(0.01);
const double kEmaDecay = 0.9;  // far from 1, so the EMA moves measurably in three steps

// The graphed and the eager step agree to rounding: the same kernels on the same inputs, except
// that the fused kernel reads the graph's learning rate as a float (the eager one as a double,
// a relative 3e-8 on an update of ~1e-3) and the EMA rounds its products once more (1 ulp).
// Weights are O(0.1), where float's ulp is ~1e-8: 1e-5 leaves room for that and for nothing
// else (a step taken differently moves weights by ~1e-3).
const double kWeightTolerance = 1e-5;
const double kLossTolerance = 1e-5;  // relative

// The same perturbed weights twice, in training mode, each with its EMA: eager, graphed, and
// their EMAs.
std::array<sit::nn::SiT, 4> twin_models() {
  auto eager = perturbed_model();
  auto graphed = copy_of(eager);
  eager->train();
  graphed->train();
  return {eager, graphed, sit::train::make_ema(eager), sit::train::make_ema(eager)};
}

}  // namespace

TEST_CASE("a graphed training step is refused where it cannot run", "[cuda]") {
  sit::nn::SiT model(tiny_sit());
  auto ema = copy_of(model);
  auto construct = [&] {
    sit::train::GraphedTrainingStep step(model, ema, sit::transport::Transport(),
                                         sit::train::GraphedTrainingStepOptions(8));
  };
  if (sit::train::GraphedTrainingStep::available()) {
    // A CUDA build: the model on the CPU is the refusal, before anything touches a GPU.
    CHECK_THROWS_WITH(construct(), Catch::Contains("needs a model on a CUDA device, not cpu"));
  } else {
    CHECK_THROWS_WITH(construct(), Catch::Contains("a graphed training step needs sit built against a CUDA LibTorch 2.2"));
  }
}

TEST_CASE("a graphed training step equals the eager step over three steps (fp32)", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  if (!sit::train::GraphedTrainingStep::available()) SIT_SKIP("this build has no graphed training step");
  sit::nn::set_matmul_precision(sit::nn::Precision::FP32);
  auto [eager, graphed, eager_ema, graphed_ema] = twin_models();
  const auto initial = snapshot(eager);
  sit::train::GraphedTrainingStep step(graphed, graphed_ema, sit::transport::Transport(),
                                       sit::train::GraphedTrainingStepOptions(8).adamw(kAdamW).ema_decay(kEmaDecay));
  CHECK(unchanged(graphed, initial));  // warm-up and capture leave the weights alone
  torch::optim::AdamW optimizer(eager->parameters(), kAdamW);
  std::vector<torch::Tensor> step_counts(eager->parameters().size());
  for (uint64_t i = 0; i < 3; ++i) {
    auto batch = random_batch(100 + i);
    const double eager_loss = eager_step(eager, eager_ema, optimizer, step_counts, batch, kEmaDecay);
    const auto& out = step.step(batch);
    CHECK(out.found_inf.item<float>() == 0);
    CHECK(out.loss.item<double>() == Approx(eager_loss).epsilon(kLossTolerance));
  }
  CHECK_FALSE(unchanged(eager, initial));
  CHECK(max_difference(graphed, eager) < kWeightTolerance);
  CHECK(max_difference(graphed_ema, eager_ema) < kWeightTolerance);
}

TEST_CASE("a graphed training step on a non-finite batch changes nothing, and leaves no trace", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  if (!sit::train::GraphedTrainingStep::available()) SIT_SKIP("this build has no graphed training step");
  sit::nn::set_matmul_precision(sit::nn::Precision::FP32);
  auto [eager, graphed, eager_ema, graphed_ema] = twin_models();
  sit::train::GraphedTrainingStep step(graphed, graphed_ema, sit::transport::Transport(),
                                       sit::train::GraphedTrainingStepOptions(8).adamw(kAdamW).ema_decay(kEmaDecay));
  const auto weights = snapshot(graphed), ema_weights = snapshot(graphed_ema);
  auto bad = random_batch(7);
  bad.x[3][0][2][5] = std::numeric_limits<float>::quiet_NaN();
  const auto& out = step.step(bad);
  CHECK(out.found_inf.item<float>() == 1);
  CHECK_FALSE(std::isfinite(out.loss.item<double>()));
  CHECK(unchanged(graphed, weights));
  CHECK(unchanged(graphed_ema, ema_weights));

  // No trace in the moments and step counts either: a finite step after it is the eager first step.
  torch::optim::AdamW optimizer(eager->parameters(), kAdamW);
  std::vector<torch::Tensor> step_counts(eager->parameters().size());
  auto good = random_batch(8);
  const double eager_loss = eager_step(eager, eager_ema, optimizer, step_counts, good, kEmaDecay);
  const auto& after = step.step(good);
  CHECK(after.found_inf.item<float>() == 0);
  CHECK(after.loss.item<double>() == Approx(eager_loss).epsilon(kLossTolerance));
  CHECK_FALSE(unchanged(graphed, weights));
  CHECK(max_difference(graphed, eager) < kWeightTolerance);
  CHECK(max_difference(graphed_ema, eager_ema) < kWeightTolerance);
}
