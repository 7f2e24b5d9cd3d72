// The scores of samples' features (sit/eval/scores.h), which sit-eval compare / score and sit-train
// --eval-every share, against each metric computed on its own. The features are random and narrow:
// the scores take any widths, and the metrics themselves are checked in test_metrics.cpp.

#include <sit/eval/inception_score.h>
#include <sit/eval/precision_recall.h>
#include <sit/eval/scores.h>

#include "support/catch_torch.h"

namespace scores_test {

// One thread: the Fréchet distance's matrix products and eigendecompositions, threaded, round
// differently from one call to the next, and these checks compare to the last bit.
void single_thread() { torch::set_num_threads(1); }

// N rows of pool_3 (N, 16), logits (N, 10) and spatial (N, 8).
sit::eval::InceptionFeatures features(int64_t n) {
  return {torch::randn({n, 16}), torch::randn({n, 10}), torch::randn({n, 8})};
}

}  // namespace scores_test

TEST_CASE("Inception scores: FID, sFID and IS; precision and recall when the reference has pool_3",
          "[eval][metrics]") {
  namespace eval = sit::eval;
  scores_test::single_thread();
  torch::manual_seed(0);
  const auto mode = eval::InputMode::PytorchFid;
  const auto samples = scores_test::features(12);
  auto reference = eval::inception_statistics(scores_test::features(20), mode);

  eval::Scores scores;
  eval::add_inception_scores(scores, samples, reference, mode);
  CHECK(scores.samples == 12);
  REQUIRE(scores.fid);
  CHECK(*scores.fid == eval::frechet_distance(eval::gaussian_statistics(samples.pool_3), reference.pool));
  CHECK(*scores.sfid == eval::frechet_distance(eval::gaussian_statistics(samples.spatial), reference.spatial));
  CHECK(*scores.fid != *scores.sfid);
  CHECK(*scores.inception_score == eval::inception_score(samples.logits));
  const auto pr = eval::precision_recall(reference.pool_3, samples.pool_3);
  REQUIRE(scores.precision);
  CHECK(*scores.precision == pr.precision);
  CHECK(*scores.recall == pr.recall);
  CHECK(scores.input_mode == mode);
  CHECK(!scores.accuracy);
  CHECK(!scores.classifier_fd);

  // Statistics without features (an ADM reference batch): no precision or recall.
  reference.pool_3 = torch::Tensor();
  eval::Scores without;
  eval::add_inception_scores(without, samples, reference, mode);
  CHECK(*without.fid == *scores.fid);
  CHECK(!without.precision);
  CHECK(!without.recall);
}

TEST_CASE("classifier scores: class accuracy and the Fréchet distance of the features", "[eval][metrics]") {
  namespace eval = sit::eval;
  scores_test::single_thread();
  torch::manual_seed(1);
  const eval::ClassifierOutputs samples{torch::randn({8, 10}), torch::randn({8, 6})};
  auto labels = samples.logits.argmax(1);
  labels.slice(0, 0, 2).add_(1).remainder_(10);  // 2 of 8 wrong
  const auto reference = eval::gaussian_statistics(torch::randn({30, 6}));

  eval::Scores scores;
  eval::add_classifier_scores(scores, samples, labels, reference);
  CHECK(scores.samples == 8);
  REQUIRE(scores.accuracy);
  CHECK(*scores.accuracy == 0.75);
  CHECK(*scores.classifier_fd == eval::frechet_distance(eval::gaussian_statistics(samples.features), reference));
  CHECK(!scores.fid);
  CHECK(!scores.input_mode);
}
