// The CUDA paths: the forward against the official fixture on the GPU, bf16 autocast against
// fp32, a CUDA-graph replay against the eager call, and a training step with bf16 autocast.
// Without a GPU (or in a CPU build of LibTorch) the GPU cases report that they skip, and what
// runs is the CPU-build behaviour: CUDA graphs refused with a clear error.
#include "catch_torch.h"
#include <sit/nn/precision.h>
#include <sit/nn/sit_from_state_dict.h>
#include <sit/train/adamw.h>
#include <sit/train/trainer.h>
#include <sit/transport/graphed_forward.h>

#include "fixture_case.h"

using namespace sit::testing;

namespace {

bool have_gpu() {
  if (torch::cuda::is_available()) return true;
  WARN("no CUDA device: the GPU checks of this case are skipped");
  return false;
}

const char* kCase = "ode_linear_velocity_heun2_cfg4";

}  // namespace

TEST_CASE("CUDA graphs are refused with a clear error where the build has none", "[cuda]") {
  if (sit::transport::cuda_graphs_available()) {
    WARN("this build has CUDA graphs: the refusal is not exercised");
    return;
  }
  sit::transport::LabelledForward identity = [](const torch::Tensor& x, const torch::Tensor&,
                                                const torch::Tensor&) { return x; };
  CHECK_THROWS_WITH(sit::transport::cuda_graphed(identity),
                    Catch::Contains("CUDA graphs need sit built against a CUDA LibTorch"));
}

TEST_CASE("the forward on the GPU matches the official model (TF32 off)", "[cuda]") {
  if (!have_gpu()) return;
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
    if (!sit::transport::cuda_graphs_available()) {
      WARN("this build has no CUDA graphs");
      return;
    }
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
  if (!have_gpu()) return;
  sit::data::DataLoader loader(std::make_shared<ConstantData>(),
                               sit::data::DataLoaderOptions().batch_size(4).num_workers(1).pin_memory(true));
  auto batch = loader.next();
  CHECK(batch.x.is_pinned());
  CHECK(batch.y.is_pinned());
  CHECK(torch::equal(batch.x.to(torch::kCUDA, /*non_blocking=*/true).cpu(), batch.x));
}

TEST_CASE("a training step on the GPU with bf16 autocast keeps fp32 weights and moves them", "[cuda]") {
  if (!have_gpu()) return;
  sit::train::TrainConfig config;
  config.model.model = "";
  config.model.patch_size = 2;
  config.model.depth = 2;
  config.model.hidden_size = 32;
  config.model.num_heads = 2;
  config.optim.global_batch_size = 8;
  config.optim.max_steps = 3;
  config.optim.lr = 1e-3;
  config.data.num_workers = 1;
  config.runtime.device = "cuda";
  config.runtime.precision = sit::nn::Precision::BF16;
  sit::train::Trainer trainer(config, std::make_shared<ConstantData>());
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
  if (!have_gpu()) return;
  torch::manual_seed(0);
  auto cuda = torch::TensorOptions(torch::kCUDA);
  std::vector<torch::Tensor> looped = {torch::randn({7, 5}, cuda), torch::randn({3}, cuda)};
  std::vector<torch::Tensor> fused;
  for (auto& p : looped) {
    p.set_requires_grad(true);
    fused.push_back(p.detach().clone().set_requires_grad(true));
  }
  auto options = torch::optim::AdamWOptions(1e-2).weight_decay(0.1);
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
