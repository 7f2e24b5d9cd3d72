#pragma once
// Sample quality of a training run (EvalConfig, sit-train --eval-every): the feature networks and
// reference statistics, loaded once; evaluate() samples with a Generator (sit-train's: the EMA model
// as training_generator makes it), shares the samples out over the data-parallel ranks and returns the scores (the same on every rank).

#include <sit/distributed/process_group.h>
#include <sit/eval/classifier.h>
#include <sit/eval/inception.h>
#include <sit/eval/scores.h>
#include <sit/eval/statistics_file.h>
#include <sit/pipeline/generator.h>
#include <sit/train/train_config.h>

#include <array>
#include <optional>

namespace sit::pipeline {

class SampleEvaluator {
 public:
  /// Loads --inception and --eval-ref, or --eval-classifier with the Fashion-MNIST test split's
  /// statistics (from the run's --data-path); checks that they fit the run's images, whose data
  /// set has examples of `shape` (C, H, W) in `num_classes` classes (extracted latents are
  /// decoded into 3 x 8H x 8W images). Throws ConfigError naming the flag when they do not.
  /// `chunk`: the samples drawn together (sit-train's 100; smaller in tests).
  SampleEvaluator(const train::TrainConfig& config, std::array<int64_t, 3> shape, int64_t num_classes, torch::Device device,
                  int64_t chunk = kChunk);

  /// Samples drawn and scored together.
  static constexpr int64_t kChunk = 100;
  /// The noise seed of the samples (sample i is the seed's sample i: Generator's per-sample draws).
  static constexpr uint64_t kNoiseSeed = 0;

  /// The scores of eval_samples samples of `generator`. Sample i has label i % num_classes; the
  /// samples are drawn in chunks (of kChunk in sit-train), chunk c on rank c % world_size; the
  /// samples do not depend on the number of ranks.
  eval::Scores evaluate(const Generator& generator, distributed::ProcessGroup* group);

 private:
  train::EvalConfig config_;
  torch::Device device_;
  int64_t chunk_;
  std::optional<eval::FidInceptionV3> inception_;
  std::optional<eval::InceptionStatistics> reference_;
  std::optional<eval::Classifier> classifier_;
  eval::GaussianStatistics classifier_reference_;
};

}  // namespace sit::pipeline
