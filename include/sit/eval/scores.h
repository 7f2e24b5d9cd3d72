#pragma once
// The scores of a set of samples, from their features: the ADM evaluator's FID, sFID, Inception
// Score, precision and recall on the FID Inception, and the Fashion-MNIST classifier's class
// accuracy and Fréchet distance of its features. sit-eval (compare, score) and sit-train
// --eval-every (pipeline::SampleEvaluator) both compute them here, so equal features give equal
// scores, bit for bit.

#include <sit/eval/classifier.h>
#include <sit/eval/frechet.h>
#include <sit/eval/inception.h>
#include <sit/eval/statistics_file.h>

#include <cstdint>
#include <optional>

namespace sit::eval {

/// What was scored: a network's scores are set when its features were given.
struct Scores {
  int64_t samples = 0;
  // Inception (precision and recall when the reference holds pool_3 features)
  std::optional<double> fid, sfid, inception_score, precision, recall;
  std::optional<InputMode> input_mode;
  // classifier
  std::optional<double> accuracy, classifier_fd;
};

/// Sets samples, fid, sfid, inception_score and input_mode from the samples' Inception features
/// computed in `mode` against `reference` (statistics of the same mode), and precision and recall
/// when the reference holds its pool_3 features.
void add_inception_scores(Scores& scores, const InceptionFeatures& samples, const InceptionStatistics& reference,
                          InputMode mode);

/// Sets samples, accuracy (of samples.logits for `labels` (N,)) and classifier_fd (of
/// samples.features to `reference`, the data's classifier features).
void add_classifier_scores(Scores& scores, const ClassifierOutputs& samples, const torch::Tensor& labels,
                           const GaussianStatistics& reference);

}  // namespace sit::eval
