// The trainer: exact resume, the checkpoint's layout (as torch.load sees it), EMA and schedules.
#include "support/catch_torch.h"
#include <sit/io/torch_load.h>
#include <sit/train/ema.h>
#include <sit/pipeline/generator.h>
#include <sit/pipeline/training_generator.h>
#include <sit/train/phema.h>
#include <sit/train/trainer.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>

#include "support/files.h"
#include "support/machine.h"
#include "support/skip.h"
#include "support/tensor_lists.h"
#include "train/tiny_config.h"

namespace {

using sit::test::tiny_config;
using sit::test::TinyDataset;

std::shared_ptr<const sit::data::Dataset> tiny_data() { return std::make_shared<TinyDataset>(); }

// TinyDataset whose images at `bad` indices (every index when empty) are NaN.
class NonFiniteDataset : public TinyDataset {
 public:
  explicit NonFiniteDataset(std::set<size_t> bad = {}) : bad_(std::move(bad)) {}
  sit::data::Example get(size_t index, std::mt19937_64& generator) const override {
    auto example = TinyDataset::get(index, generator);
    if (bad_.empty() || bad_.count(index)) example.x.fill_(std::numeric_limits<float>::quiet_NaN());
    return example;
  }

 private:
  std::set<size_t> bad_;
};

using sit::test::all_equal;
using sit::test::copies;

}  // namespace

TEST_CASE("a resumed run's losses and weights equal the uninterrupted run's", "[train]") {
  torch::set_num_threads(1);
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  // Flow matching, MeanFlow with a guided target, flow matching with power-function EMAs (whose
  // state the checkpoint holds).
  const std::string mode = GENERATE(as<std::string>(), "flow matching", "MeanFlow", "power-function EMAs");
  INFO(mode);
  const bool meanflow = mode == "MeanFlow", phema = mode == "power-function EMAs";
  config.model.architecture.meanflow(meanflow);
  if (meanflow) config.mean_flow.omega(1.5).kappa(0.2);
  if (phema) config.optim.phema_sigma_rel = {0.05, 0.1};

  sit::train::Trainer uninterrupted(config, tiny_data());
  std::vector<double> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(uninterrupted.train_step());  // crosses an epoch

  sit::train::Trainer first(config, tiny_data());
  for (int i = 0; i < 5; ++i) CHECK(first.train_step() == expected[i]);
  auto checkpoint = dir.file("ckpt.pt");
  first.save_checkpoint(checkpoint);

  auto saved = sit::train::read_checkpoint_config(checkpoint);
  CHECK(saved.to_json() == config.to_json());
  sit::train::Trainer resumed(saved, tiny_data());
  resumed.resume(checkpoint);
  CHECK(resumed.train_steps() == 5);
  for (int i = 5; i < 12; ++i) CHECK(resumed.train_step() == expected[i]);

  auto a = uninterrupted.model()->named_parameters(), b = resumed.model()->named_parameters();
  auto ea = uninterrupted.ema()->named_parameters(), eb = resumed.ema()->named_parameters();
  for (const auto& item : a) {
    INFO(item.key());
    CHECK(torch::equal(item.value(), b[item.key()]));
    CHECK(torch::equal(ea[item.key()], eb[item.key()]));
    for (size_t k = 0; phema && k < 2; ++k) {
      CHECK(torch::equal(uninterrupted.phema()->emas()[k]->named_parameters()[item.key()],
                         resumed.phema()->emas()[k]->named_parameters()[item.key()]));
    }
  }
}

TEST_CASE("power-function EMAs: tracked beside the run, a tracked one reconstructed, read by sit::Generator",
          "[train]") {
  torch::set_num_threads(1);
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  sit::train::Trainer plain(config, tiny_data());
  config.optim.phema_sigma_rel = {0.05, 0.1};
  sit::train::Trainer trainer(config, tiny_data());
  const auto snapshots = dir.file("phema");
  for (int64_t step = 1; step <= 12; ++step) {
    CHECK(trainer.train_step() == plain.train_step());  // tracking changes nothing of the run
    if (step % 3 == 0) sit::train::save_phema_snapshots(*trainer.phema(), step, snapshots, trainer.config());
  }
  CHECK(all_equal(trainer.ema()->parameters(), plain.ema()->parameters()));

  auto path = dir.file("ckpt.pt");
  trainer.save_checkpoint(path);
  const auto root = sit::io::torch_load(path);
  const auto* phema = root.to_dict().find("phema");
  REQUIRE(phema != nullptr);
  CHECK(phema->to_dict().find("stds")->items().size() == 2);
  CHECK(phema->to_dict().find("emas")->items().size() == 2);

  // (12, 0.1) is a snapshot's own profile: the solve picks it alone, up to float64 rounding.
  auto listed = sit::train::list_phema_snapshots(snapshots);
  REQUIRE(listed.size() == 8);
  CHECK((listed.front().t == 3 && listed.front().sigma_rel == 0.05));
  auto outputs = sit::train::reconstruct_phema(listed, {0.1, 0.07});
  REQUIRE(outputs.size() == 2);
  auto tracked = sit::io::state_dict(*trainer.phema()->emas()[1]);
  for (const auto& item : tracked) {
    INFO(item.key());
    CHECK((outputs[0].state_dict[item.key()] - item.value()).abs().max().item<double>() <= 1e-6);
  }

  // sit::Generator (sit-sample's pipeline) reads a reconstruction with the run's settings.
  const auto out = sit::train::phema_reconstruction_path(dir.path().string(), outputs[1].t, outputs[1].sigma_rel);
  sit::io::save_state_dict(outputs[1].state_dict, out, outputs[1].metadata);
  sit::Generator generator(out);
  CHECK(generator.architecture().hidden_size() == 32);
  for (const auto& item : generator.model()->named_parameters()) {
    INFO(item.key());
    CHECK(torch::equal(item.value(), outputs[1].state_dict[item.key()]));
  }
  auto samples = generator.generate(torch::tensor({0, 3})).samples;
  CHECK(samples.sizes() == torch::IntArrayRef({2, 1, 8, 8}));
  CHECK(torch::isfinite(samples).all().item<bool>());
}

TEST_CASE("the checkpoint holds model, ema, opt, args and train_state", "[train]") {
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  sit::train::Trainer trainer(config, tiny_data());
  trainer.train_step();
  auto path = dir.file("ckpt.pt");
  trainer.save_checkpoint(path);

  auto root = sit::io::torch_load(path);
  const auto& dict = root.to_dict();
  for (const auto& key : {"model", "ema", "opt", "args", "train_state"}) {
    INFO(key);
    CHECK(dict.find(key) != nullptr);
  }
  const auto& model = dict.find("model")->to_dict();
  auto params = trainer.model()->named_parameters();
  CHECK(model.items.size() == params.size());
  CHECK(dict.find("args")->to_dict().find("hidden_size")->to_int() == 32);
  // Every parameter with a gradient has Adam moments: all but pos_embed.
  CHECK(dict.find("opt")->to_dict().find("state")->to_dict().items.size() == params.size() - 1);

  // torch.load in Python (Debian's python3-torch) reads it: same keys and shapes as ours.
  if (!sit::test::python_torch_available()) SIT_SKIP("Debian's python3-torch is not installed");
  auto listing = dir.file("keys.txt");
  auto command = "/usr/bin/python3 -c \"import torch; c = torch.load('" + path + "'); "
                 "print('\\n'.join(f'{e} {k} {tuple(v.shape)}' for e in ('model', 'ema') "
                 "for k, v in c[e].items()))\" > " + listing;
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream in(listing);
  std::string entry, key, shape;
  size_t lines = 0;
  while (in >> entry >> key && std::getline(in, shape)) {
    INFO(entry << " " << key);
    REQUIRE(params.contains(key));
    auto sizes = params[key].sizes();
    std::string ours = " (";
    for (size_t i = 0; i < sizes.size(); ++i) ours += std::to_string(sizes[i]) + (sizes.size() == 1 ? "," : i + 1 < sizes.size() ? ", " : "");
    CHECK(shape == ours + ")");
    ++lines;
  }
  CHECK(lines == 2 * params.size());
}

TEST_CASE("the successors' loss and optimiser settings reach the step, the checkpoint and a resume", "[train]") {
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  config.optim.adam_beta2 = 0.95;
  config.transport.time_sampling(sit::transport::TimeSampling::LogitNormal).logit_mean(0.4);
  config.transport.cosine_loss_weight(1).cosine_loss_over(sit::transport::CosineLossOver::Patch);
  sit::train::Trainer trainer(config, tiny_data());
  auto mse_only = config;
  mse_only.transport.cosine_loss_weight(0);
  sit::train::Trainer without_cosine(mse_only, tiny_data());
  // The same draws and weights: the first loss differs by the cosine term, between 0 and 2.
  const double loss = trainer.train_step(), mse = without_cosine.train_step();
  CHECK(loss > mse);
  CHECK(loss < mse + 2);
  auto path = dir.file("ckpt.pt");
  trainer.save_checkpoint(path);

  auto root = sit::io::torch_load(path);
  const auto& group = root.to_dict().find("opt")->to_dict().find("param_groups")->items().at(0).to_dict();
  const auto& betas = group.find("betas")->items();  // torch.optim.AdamW's (beta1, beta2)
  REQUIRE(betas.size() == 2);
  CHECK(betas[0].to_double() == 0.9);
  CHECK(betas[1].to_double() == 0.95);
  const auto& args = root.to_dict().find("args")->to_dict();
  CHECK(args.find("adam_beta2")->to_double() == 0.95);
  CHECK(args.find("time_sampling")->to_string() == "logit-normal");
  CHECK(args.find("logit_mean")->to_double() == 0.4);
  CHECK(args.find("cosine_loss_over")->to_string() == "patch");
  CHECK(sit::train::read_checkpoint_config(path).to_json() == config.to_json());
  // They change what is trained: a resume keeps the saved values.
  for (const auto* key : {"adam_beta1", "adam_beta2", "time_sampling", "logit_mean", "logit_std", "cosine_loss_weight",
                          "cosine_loss_over"}) {
    INFO(key);
    CHECK_FALSE(sit::train::TrainConfig::per_run(key));
  }
  auto changed = config;
  changed.optim.adam_beta2 = 0.999;
  CHECK(changed.resumed_from(sit::train::read_checkpoint_config(path)).optim.adam_beta2 == 0.95);

  // One channel: channel vectors have no direction to learn.
  auto channel = config;
  channel.transport.cosine_loss_over(sit::transport::CosineLossOver::Channel);
  CHECK_THROWS_WITH(sit::train::Trainer(channel, tiny_data()),
                    Catch::StartsWith("cosine_loss_over channel: compares 1-channel vectors"));
}

TEST_CASE("sample grids come from the EMA model and are finite", "[train]") {
  sit::test::TempDir dir;
  sit::train::Trainer trainer(tiny_config(dir.path().string()), tiny_data());
  for (int i = 0; i < 3; ++i) trainer.train_step();
  auto samples = sit::pipeline::training_generator(trainer).generate(torch::tensor({0, 1, 2, 3})).samples;
  CHECK(samples.sizes() == torch::IntArrayRef({4, 1, 8, 8}));
  CHECK(torch::isfinite(samples).all().item<bool>());
}

TEST_CASE("a MeanFlow run from a flow-matching checkpoint starts at its EMA, u(z, t, h) = v(z, t)", "[train]") {
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  sit::train::Trainer flow(config, tiny_data());
  for (int i = 0; i < 3; ++i) flow.train_step();
  const auto checkpoint = dir.file("flow.pt");
  flow.save_checkpoint(checkpoint);

  config.model.architecture.meanflow(true);
  config.run.init_from = checkpoint;
  config.run.sampler.ode_method(sit::transport::OdeMethod::MeanFlow);
  config.run.sampler.num_steps(1);
  sit::train::Trainer mean_flow(config, tiny_data());
  auto model = mean_flow.model().ptr(), ema = mean_flow.ema().ptr(), flow_ema = flow.ema().ptr();
  model->eval();
  flow_ema->eval();
  {
    torch::NoGradGuard no_grad;
    auto x = torch::randn({4, 1, 8, 8}), t = torch::rand({4}), y = torch::tensor({0, 1, 2, 3});
    auto v = flow_ema->forward(x, t, y);
    // Bit for bit: c = t_embedder(t) + 0 + y_embedder(y).
    CHECK(torch::equal(model->forward(x, t, y, c10::nullopt, torch::rand({4})), v));
    CHECK(torch::equal(ema->forward(x, t, y, c10::nullopt, torch::rand({4})), v));
  }
  model->train();
  CHECK(std::isfinite(mean_flow.train_step()));
  auto generation = sit::pipeline::training_generator(mean_flow).generate(torch::tensor({0, 1, 2, 3}));
  CHECK(generation.model_evaluations == 1);  // one step, guided on the doubled batch
  CHECK(torch::isfinite(generation.samples).all().item<bool>());
}

TEST_CASE("update_ema is ema = decay ema + (1 - decay) model", "[train]") {
  torch::nn::Linear model(3, 2), ema(3, 2);
  auto before = ema->weight.detach().clone();
  sit::train::update_ema(*ema, *model, 0.75);
  CHECK(torch::allclose(ema->weight, 0.75 * before + 0.25 * model->weight.detach()));
  sit::train::update_ema(*ema, *model, 0.0);
  CHECK(torch::equal(ema->weight, model->weight.detach()));
}

TEST_CASE("learning-rate schedules: linear warm-up, then constant or cosine to the floor", "[train]") {
  auto options = sit::train::LrScheduleOptions().lr(1e-3).warmup_steps(4).total_steps(14).min_lr(1e-5);
  CHECK(sit::train::learning_rate(options, 0) == Approx(0.25e-3));
  CHECK(sit::train::learning_rate(options, 3) == Approx(1e-3));
  CHECK(sit::train::learning_rate(options, 100) == Approx(1e-3));
  options.schedule(sit::train::LrSchedule::Cosine);
  CHECK(sit::train::learning_rate(options, 4) == Approx(1e-3));
  CHECK(sit::train::learning_rate(options, 9) == Approx(1e-5 + (1e-3 - 1e-5) * 0.5));
  CHECK(sit::train::learning_rate(options, 14) == Approx(1e-5));
  CHECK(sit::train::learning_rate(options, 20) == Approx(1e-5));
  CHECK_THROWS_WITH(sit::config::parse_enum<sit::train::LrSchedule>("linear"),
                    Catch::Contains("'linear'") && Catch::Contains("constant or cosine"));
}

TEST_CASE("configuration: JSON round trip and clear errors", "[train]") {
  sit::train::TrainConfig config;
  config.model.model = "SiT-S/4";
  config.transport.train_eps(1e-3);
  config.transport.path_type(sit::transport::PathType::GVP);
  config.run.sampler.ode_method(sit::transport::OdeMethod::Dopri5);
  auto back = sit::train::TrainConfig::from_json(config.to_json());
  CHECK(back.to_json() == config.to_json());
  CHECK(back.transport.train_eps().value() == 1e-3);
  CHECK_FALSE(back.transport.sample_eps().has_value());
  CHECK(back.transport.path_type() == sit::transport::PathType::GVP);
  CHECK_THAT(config.to_json(), Catch::Contains(R"("path_type":"GVP")") && Catch::Contains(R"("sampling_method":"dopri5")"));
  CHECK_THROWS_WITH(sit::train::TrainConfig::from_json(R"({"loss_weight": "velocty"})"),
                    Catch::Contains("velocty") && Catch::Contains("None, velocity or likelihood"));
  CHECK_THROWS_WITH(sit::train::TrainConfig::from_json(R"({"lr": 1, "colour": 3})"),
                    Catch::Contains("colour"));
  CHECK_THROWS_WITH(sit::train::TrainConfig::from_json(R"({"lr": "fast"})"), Catch::Contains("lr"));
  auto bad_patch = tiny_config("unused");
  bad_patch.model.architecture.patch_size(3);
  CHECK_THROWS_WITH(bad_patch.model.options({1, 8, 8}, 4), Catch::Contains("divisible by the patch size 3"));
}

TEST_CASE("a step with a NaN image changes neither the weights nor the EMA, and the run goes on exactly",
          "[train]") {
  torch::set_num_threads(1);
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  config.run.max_bad_steps = 2;
  config.optim.phema_sigma_rel = {0.1};
  auto data = std::make_shared<NonFiniteDataset>(std::set<size_t>{5});
  sit::train::Trainer trainer(config, data);
  std::vector<int64_t> skipped;
  const auto checkpoint = dir.file("after_skip.pt");
  for (int64_t step = 1; step <= 16; ++step) {  // two epochs of 8 batches: index 5 once in each
    auto model = copies(trainer.model()->parameters()), ema = copies(trainer.ema()->parameters());
    auto phema = copies(trainer.phema()->emas()[0]->parameters());
    const double loss = trainer.train_step();
    CHECK(trainer.train_steps() == step);
    const bool bad = trainer.consecutive_bad_steps() > 0;
    CHECK(std::isfinite(loss) == !bad);
    CHECK(all_equal(trainer.model()->parameters(), model) == bad);
    CHECK(all_equal(trainer.ema()->parameters(), ema) == bad);
    // The power-function EMA takes every step, a skipped one with the unchanged weights.
    CHECK_FALSE(all_equal(trainer.phema()->emas()[0]->parameters(), phema));
    if (bad) {
      skipped.push_back(step);
      if (skipped.size() == 1) trainer.save_checkpoint(checkpoint);
    }
  }
  REQUIRE(skipped.size() == 2);
  CHECK(skipped[0] <= 8);
  CHECK(skipped[1] > 8);
  CHECK(trainer.bad_steps() == 2);
  for (const auto& p : trainer.ema()->parameters()) CHECK(torch::isfinite(p).all().item<bool>());

  // The skipped step used up its batch and counts: a resume right after it ends where the run did.
  sit::train::Trainer resumed(config, data);
  resumed.resume(checkpoint);
  CHECK(resumed.train_steps() == skipped[0]);
  while (resumed.train_steps() < 16) resumed.train_step();
  CHECK(all_equal(resumed.model()->parameters(), trainer.model()->parameters()));
  CHECK(all_equal(resumed.ema()->parameters(), trainer.ema()->parameters()));
  CHECK(all_equal(resumed.phema()->emas()[0]->parameters(), trainer.phema()->emas()[0]->parameters()));
}

TEST_CASE("max_bad_steps non-finite steps in a row stop the run with the last good weights", "[train]") {
  torch::set_num_threads(1);
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  config.run.max_bad_steps = 3;
  sit::train::Trainer trainer(config, std::make_shared<NonFiniteDataset>());
  auto model = copies(trainer.model()->parameters()), ema = copies(trainer.ema()->parameters());
  CHECK(std::isnan(trainer.train_step()));
  CHECK(std::isnan(trainer.train_step()));
  CHECK_THROWS_WITH(trainer.train_step(),
                    Catch::Contains("steps 1 to 3 all had a non-finite loss or gradient (--max-bad-steps 3)") &&
                        Catch::Contains("the weights of step 0"));
  CHECK(trainer.bad_steps() == 3);
  CHECK(all_equal(trainer.model()->parameters(), model));
  CHECK(all_equal(trainer.ema()->parameters(), ema));
}

TEST_CASE("LightningDiT block options: the loss falls, and the checkpoint samples through the Generator",
          "[train]") {
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  config.model.architecture.patch_size(2).use_rmsnorm(true).use_swiglu(true).use_rope(true).use_qknorm(true);
  config.optim.max_steps = 60;
  config.optim.lr = 3e-3;
  sit::train::Trainer trainer(config, tiny_data());
  std::vector<double> losses;
  for (int i = 0; i < 60; ++i) losses.push_back(trainer.train_step());
  for (double loss : losses) REQUIRE(std::isfinite(loss));
  // The mean of 10 steps' losses: 1.40 for the first ten, 1.15 (0.82 of it) for the last on a
  // 2-core x86-64; 0.9 leaves room for other CPUs' kernels and still fails a model that learns nothing.
  auto mean = [&](size_t begin) { return std::accumulate(losses.begin() + begin, losses.begin() + begin + 10, 0.0) / 10; };
  INFO("first 10 steps " << mean(0) << ", last 10 " << mean(50));
  CHECK(mean(50) < 0.9 * mean(0));
  auto checkpoint = dir.file("ckpt.pt");
  trainer.save_checkpoint(checkpoint);

  // As sit-sample reads it: the options from the weights, agreeing with the saved configuration.
  sit::transport::SamplerOptions sampler;
  sampler.ode_method(sit::transport::OdeMethod::Euler).num_steps(4);
  const sit::Generator generator(checkpoint, sit::GeneratorOptions().sampler(sampler)
                                                 .guidance(sit::transport::GuidanceOptions().cfg_scale(2)));
  const auto& o = generator.architecture();
  CHECK((o.use_rmsnorm() && o.use_swiglu() && o.use_rope() && o.use_qknorm()));
  auto samples = generator.generate(torch::tensor({0, 1, 2, 3}), sit::Draws().seed(1)).samples;
  CHECK(samples.sizes() == torch::IntArrayRef({4, 1, 8, 8}));
  CHECK(torch::isfinite(samples).all().item<bool>());
}

TEST_CASE("a bf16 step keeps in fp32 the weights, the AdamW moments, the EMA and the loss", "[train]") {
  sit::test::TempDir dir;
  auto config = tiny_config(dir.path().string());
  config.runtime.precision = sit::nn::Precision::BF16;  // CPU autocast: emulated where the CPU has no bf16
  sit::train::Trainer bf16(config, tiny_data());
  config.runtime.precision = sit::nn::Precision::FP32;
  sit::train::Trainer fp32(config, tiny_data());
  // The first step's output is 0 in any precision (the zero-initialised final layer); the third's is not.
  double loss = 0, loss32 = 0;
  for (int step = 0; step < 3; ++step) loss = bf16.train_step(), loss32 = fp32.train_step();
  // The loss is reduced in fp32 from bf16 matmuls: near the fp32 step's, not equal to it.
  CHECK(std::isfinite(loss));
  CHECK(loss != loss32);
  CHECK(loss == Approx(loss32).epsilon(0.02));
  const auto path = dir.file("bf16.pt");
  bf16.save_checkpoint(path);
  const auto root = sit::io::torch_load(path);
  const auto& dict = root.to_dict();
  size_t tensors = 0;
  for (const auto* entry : {"model", "ema"}) {
    for (const auto& [key, value] : dict.find(entry)->to_dict().items) {
      INFO(entry << "." << key.to_string());
      CHECK(value.to_tensor().scalar_type() == torch::kFloat32);
      ++tensors;
    }
  }
  for (const auto& [index, state] : dict.find("opt")->to_dict().find("state")->to_dict().items) {
    for (const auto* moment : {"exp_avg", "exp_avg_sq"}) {
      CHECK(state.to_dict().find(moment)->to_tensor().scalar_type() == torch::kFloat32);
      ++tensors;
    }
  }
  CHECK(tensors > 10);
  // The weights moved by fp32 updates from bf16 gradients: close to the fp32 step's, not equal.
  const auto a = copies(bf16.model()->parameters()), b = copies(fp32.model()->parameters());
  CHECK_FALSE(all_equal(a, b));
}
