// sit-train's sample-quality evaluation (SampleEvaluator) against the same computation spelt out:
// the chunks' seeded noise and cycling labels, the EMA model's samples, pytorch-fid's network with
// random weights (tests/data/eval/inception_random.pt) and the metrics.

#include <sit/eval/inception_score.h>
#include <sit/eval/precision_recall.h>
#include <sit/eval/statistics_file.h>
#include <sit/image/quantize.h>
#include <sit/pipeline/sample_evaluator.h>
#include <sit/pipeline/training_generator.h>
#include <sit/train/trainer.h>

#include <ATen/CPUGeneratorImpl.h>

#include "support/catch_torch.h"
#include "support/files.h"
#include "train/tiny_config.h"

namespace sample_evaluator_test {

// 32 examples of (1, 8, 8) in 4 classes.
class Ramps : public sit::data::Dataset {
 public:
  size_t size() const override { return 32; }
  sit::data::Example get(size_t index, std::mt19937_64&) const override {
    auto ramp = torch::linspace(-1, 1, 8) * (static_cast<double>(index % 4) + 1) / 4;
    return {(ramp.unsqueeze(0) + ramp.unsqueeze(1)).clamp(-1, 1).unsqueeze(0), static_cast<int64_t>(index % 4)};
  }
  int64_t num_classes() const override { return 4; }
  std::array<int64_t, 3> shape() const override { return {1, 8, 8}; }
};

}  // namespace sample_evaluator_test

TEST_CASE("SampleEvaluator: the scores of the EMA model's samples, in seeded chunks", "[pipeline][eval]") {
  torch::set_num_threads(2);
  sit::test::TempDir dir;
  const std::string inception = std::string(SIT_TEST_DATA_DIR) + "/eval/inception_random.pt";
  auto network = sit::eval::load_fid_inception(inception);
  const auto mode = sit::eval::InputMode::PytorchFid;
  // The reference: 20 random images' statistics and features.
  const auto reference_images = torch::randint(0, 256, {20, 8, 8, 1}, torch::kUInt8);
  const auto reference = sit::eval::inception_statistics(sit::eval::inception_features(network, reference_images, mode, 20), mode);
  sit::eval::write_statistics(dir.file("ref.npz"), reference);

  auto c = sit::test::tiny_config(dir.path().string());
  c.optim.max_steps = 2;
  c.optim.ema_decay = 0.5;
  c.run.sampler.num_steps(3);
  c.eval.eval_every = 2;
  // Two chunks, 4 and 1 (sit-train's are 100: the same code, at 1/20 of the Inception passes).
  c.eval.eval_samples = 5;
  const int64_t chunk = 4;
  c.eval.inception.inception = inception;
  c.eval.eval_ref = dir.file("ref.npz");
  c.eval.inception.input_mode = mode;
  REQUIRE_NOTHROW(c.validate());
  sit::train::Trainer trainer(c, std::make_shared<sample_evaluator_test::Ramps>());
  trainer.train_step();
  trainer.train_step();
  sit::pipeline::SampleEvaluator evaluator(c, {1, 8, 8}, 4, torch::kCPU, chunk);
  const auto generator = sit::pipeline::training_generator(trainer);
  const auto scores = evaluator.evaluate(generator, nullptr);

  std::vector<torch::Tensor> pool_3, logits, spatial;
  for (int64_t index = 0; index < 2; ++index) {
    const int64_t begin = 4 * index, n = index == 0 ? 4 : 1;
    auto y = torch::arange(begin, begin + n, torch::kInt64) % 4;
    auto samples = generator.generate(y, sit::Draws().seed(0).first(begin)).samples;
    auto f = sit::eval::inception_features(network, sit::image::to_uint8_nhwc(samples), mode, chunk);
    pool_3.push_back(f.pool_3);
    logits.push_back(f.logits);
    spatial.push_back(f.spatial);
  }
  const auto p = torch::cat(pool_3), l = torch::cat(logits), s = torch::cat(spatial);
  const auto fid = sit::eval::frechet_distance(sit::eval::gaussian_statistics(p), reference.pool);
  const auto sfid = sit::eval::frechet_distance(sit::eval::gaussian_statistics(s), reference.spatial);
  const auto pr = sit::eval::precision_recall(reference.pool_3, p);
  CHECK(scores.samples == 5);
  REQUIRE(scores.fid);
  CHECK(*scores.fid == Approx(fid).epsilon(1e-9));
  CHECK(*scores.sfid == Approx(sfid).epsilon(1e-9));
  CHECK(*scores.inception_score == Approx(sit::eval::inception_score(l)).epsilon(1e-9));
  CHECK(*scores.precision == pr.precision);
  CHECK(*scores.recall == pr.recall);
  CHECK(scores.input_mode == mode);
  CHECK(!scores.accuracy);
  // Evaluation draws from its own generators: the training's stream is left alone, and a second
  // evaluation gives the same scores.
  CHECK(*evaluator.evaluate(generator, nullptr).fid == *scores.fid);
}

TEST_CASE("EvalConfig refuses what cannot be evaluated", "[train][eval][config]") {
  sit::train::EvalConfig e;
  CHECK_NOTHROW(e.validate());  // off
  e.eval_every = -1;
  CHECK_THROWS_WITH(e.validate(), Catch::Contains("eval_every -1"));
  e.eval_every = 10;
  CHECK_THROWS_WITH(e.validate(), Catch::Contains("needs a feature network"));
  e.inception.inception = "pt_inception.pth";
  CHECK_THROWS_WITH(e.validate(), Catch::Contains("inception pt_inception.pth: needs eval_ref"));
  e.eval_ref = "ref.npz";
  CHECK_NOTHROW(e.validate());
  e.eval_samples = 3;
  CHECK_THROWS_WITH(e.validate(), Catch::Contains("eval_samples 3: must be 4 or more"));
  e.eval_samples = 10;
  e.inception.inception.clear();
  CHECK_THROWS_WITH(e.validate(), Catch::Contains("eval_ref ref.npz: needs inception"));
}
