// sit::Generator: a checkpoint to samples in one call. What sit-sample makes of it (every official
// fixture case, the refusals) is checked in test_cli; here the library's own promises.

#include "support/catch_torch.h"
#include <sit/config/error.h>
#include <sit/pipeline/generator.h>
#include <sit/train/checkpoint_settings.h>

#include "support/files.h"
#include "support/fixture_case.h"

namespace {

using sit::test::fixture_dir;

// The tiny latent model of the sampler fixtures: hidden 64, 4 heads, 16x16x4 inputs, 10 classes.
std::string bare_checkpoint() { return fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt"; }
std::string io_fixture(const std::string& name) { return std::string(SIT_TEST_DATA_DIR) + "/io/" + name; }

sit::GeneratorOptions few_steps(sit::transport::SamplerMode mode, double cfg_scale) {
  sit::transport::SamplerOptions sampler;
  sampler.mode(mode);
  sampler.ode_method(sit::transport::OdeMethod::Euler);
  sampler.num_steps(4);
  sit::transport::GuidanceOptions guidance;
  guidance.cfg_scale(cfg_scale);
  return sit::GeneratorOptions().num_heads(4).sampler(sampler).guidance(guidance);
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("Generator: sample i of a seed is the same in any batch, at any offset", "[pipeline]") {
  using Mode = sit::transport::SamplerMode;
  for (auto [mode, cfg] : {std::pair{Mode::ODE, 1.0}, std::pair{Mode::SDE, 1.0}, std::pair{Mode::SDE, 2.0}}) {
    INFO(sit::config::enum_name(mode) << " cfg " << cfg);
    auto options = few_steps(mode, cfg);
    const sit::Generator whole(bare_checkpoint(), options.batch_size(5));
    const sit::Generator pairs(bare_checkpoint(), few_steps(mode, cfg).batch_size(2));
    const auto labels = torch::tensor({3, 1, 4, 1, 5}, torch::kInt64);
    const auto all = whole.generate(labels, sit::Draws().seed(7));
    REQUIRE(all.samples.sizes() == torch::IntArrayRef({5, 4, 16, 16}));
    CHECK(torch::equal(all.labels, labels));
    CHECK(all.model_evaluations > 0);
    CHECK(max_difference(pairs.generate(labels, sit::Draws().seed(7)).samples, all.samples) < 1e-5);
    // Samples 3 and 4 alone, as a second rank draws them.
    const auto tail = pairs.generate(labels.slice(0, 3), sit::Draws().seed(7).first(3));
    CHECK(max_difference(tail.samples, all.samples.slice(0, 3)) < 1e-5);
    // Another seed, other samples; the same seed again, the same ones.
    CHECK(max_difference(whole.generate(labels, sit::Draws().seed(8)).samples, all.samples) > 0.1);
    CHECK(torch::equal(whole.generate(labels, sit::Draws().seed(7)).samples, all.samples));
  }
}

TEST_CASE("Generator: the noise given is the noise sampled", "[pipeline]") {
  const sit::Generator generator(bare_checkpoint(), few_steps(sit::transport::SamplerMode::ODE, 1.0));
  const auto labels = torch::tensor({0, 9}, torch::kInt64);
  const auto z = torch::randn({2, 4, 16, 16});
  const auto given = generator.generate(labels, sit::Draws().noise(z)).samples;
  // Euler's first step from t = 0 is x + h v: the samples move away from z but keep its sign mostly.
  CHECK(max_difference(given, z) > 1e-3);
  CHECK(torch::equal(generator.generate(labels, sit::Draws().noise(z).seed(99)).samples, given));
  CHECK_THROWS_WITH(generator.generate(labels, sit::Draws().noise(torch::randn({3, 4, 16, 16}))),
                    Catch::Contains("noise has shape [3, 4, 16, 16], the model and labels need [2, 4, 16, 16]"));
  CHECK_THROWS_WITH(generator.generate(torch::tensor({0, 10}, torch::kInt64)),
                    "class label 10 is outside the model's 10 classes");
}

TEST_CASE("Generator: progress after each batch, and a cancel that stops it", "[pipeline]") {
  const sit::Generator generator(bare_checkpoint(), few_steps(sit::transport::SamplerMode::ODE, 1.0).batch_size(2));
  std::vector<std::pair<int64_t, int64_t>> calls;
  auto out = generator.generate(generator.balanced_labels(5), {}, [&](int64_t done, int64_t total) {
    calls.emplace_back(done, total);
    return true;
  });
  CHECK(calls == std::vector<std::pair<int64_t, int64_t>>{{2, 5}, {4, 5}, {5, 5}});
  CHECK(torch::equal(out.labels, torch::tensor({0, 1, 2, 3, 4}, torch::kInt64)));
  int64_t batches = 0;
  CHECK_THROWS_AS(generator.generate(generator.balanced_labels(5), {}, [&](int64_t, int64_t) { return ++batches < 2; }),
                  sit::Cancelled);
  CHECK(batches == 2);
}

TEST_CASE("Generator: a fork's train.py model name takes the weights' architecture and the heads given",
          "[pipeline]") {
  // fork_train_py_checkpoint.pt: train_py_checkpoint.pt with args.model "SiT-T/2", a fork's entry.
  const auto fork = io_fixture("fork_train_py_checkpoint.pt");
  auto options = few_steps(sit::transport::SamplerMode::ODE, 1.0);
  CHECK_THROWS_AS(sit::Generator(fork, sit::GeneratorOptions(options).num_heads(std::nullopt)), sit::config::ConfigError);
  CHECK_THROWS_WITH(sit::Generator(fork, sit::GeneratorOptions(options).num_heads(std::nullopt)),
                    Catch::Contains(fork + ": train.py's args.model 'SiT-T/2' is no SiT preset (a fork's model): "
                                           "give its heads with num_heads"));
  const sit::Generator generator(fork, options);
  CHECK(generator.architecture().num_heads() == 4);
  CHECK(generator.architecture().hidden_size() == 64);
  CHECK(generator.transport().path_type() == sit::transport::PathType::GVP);  // the rest of its args still count
  const auto labels = torch::tensor({1, 2}, torch::kInt64);
  CHECK(torch::equal(generator.generate(labels).samples,
                     sit::Generator(io_fixture("train_py_checkpoint.pt"), options).generate(labels).samples));
  // Its own name is no contradiction; a preset's is checked against the weights.
  CHECK_NOTHROW(sit::Generator(fork, sit::GeneratorOptions(options).model("SiT-T/2")));
  CHECK_THROWS_WITH(sit::Generator(fork, sit::GeneratorOptions(options).model("SiT-S/2")),
                    Catch::Contains("model SiT-S/2 (depth 12, hidden 384, patch 2) contradicts"));
}

TEST_CASE("Generator: LightningDiT block options saved by sit-train must be those the weights show", "[pipeline]") {
  // The authors' model with RMSNorm (tests/data/lightning/rmsnorm), saved as sit-train's
  // ema.safetensors with a configuration that says it was trained with or without the rotary embedding.
  sit::test::TempDir dir;
  auto weights = sit::io::read_state_dict(std::string(SIT_TEST_DATA_DIR) + "/lightning/rmsnorm/ckpt.pt");
  sit::train::TrainConfig config;
  config.model.model = "";
  config.model.architecture.hidden_size(64).num_heads(4).depth(1).patch_size(2).use_rmsnorm(true);
  config.data.num_classes = 10;
  const auto agreeing = dir.file("agreeing.safetensors"), contradicting = dir.file("contradicting.safetensors");
  sit::io::save_state_dict(weights, agreeing, {{sit::train::kConfigMetadataKey, config.to_json()}});
  config.model.architecture.use_rope(true);
  sit::io::save_state_dict(weights, contradicting, {{sit::train::kConfigMetadataKey, config.to_json()}});
  auto options = few_steps(sit::transport::SamplerMode::ODE, 1.0).num_heads(std::nullopt);
  const sit::Generator generator(agreeing, options);
  CHECK(generator.architecture().use_rmsnorm());
  CHECK(torch::isfinite(generator.generate(torch::tensor({3, 4}), sit::Draws().seed(0)).samples).all().item<bool>());
  CHECK_THROWS_AS(sit::Generator(contradicting, options), sit::config::ConfigError);
  CHECK_THROWS_WITH(sit::Generator(contradicting, options),
                    contradicting + ": its weights are of use_rope false, but sit-train's configuration says true");
}
