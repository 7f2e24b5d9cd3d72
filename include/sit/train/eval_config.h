#pragma once
// Sample quality during training: every eval_every steps the EMA model samples eval_samples
// images (labels cycling through the classes, noise from a fixed seed, the sample grids' sampler
// and guidance: RunConfig), and the scores go to the log and to
// <results_dir>/metrics.jsonl. Two feature networks, either or both:
//   --inception FILE --eval-ref STATS.npz   FID, sFID, Inception Score, precision, recall (the ADM
//                                           evaluator's, against sit-eval stats' or ADM's statistics)
//   --eval-classifier FILE                  Fashion-MNIST: class accuracy and the Fréchet distance of
//                                           the classifier's features to the test split's (for
//                                           tracking only: not comparable with Inception FID)
// With data-parallel ranks each rank samples its share; the features are summed across ranks.

#include <sit/config/fields.h>
#include <sit/eval/inception_config.h>

#include <string>

namespace sit::train {

struct EvalConfig {
  int64_t eval_every = 0;  // 0: no evaluation
  int64_t eval_samples = 1000;
  std::string eval_ref;
  eval::InceptionConfig inception;  // no weights: no Inception scores
  std::string eval_classifier;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("eval_every", self.eval_every, "steps between sample-quality evaluations (0: none)");
    field("eval_samples", self.eval_samples, "samples per evaluation");
    field("eval_ref", self.eval_ref, "reference statistics .npz (sit-eval stats, or an ADM reference batch)");
    eval::InceptionConfig::fields(self.inception, field);
    field("eval_classifier", self.eval_classifier,
          "sit-eval train-classifier weights: Fashion-MNIST class accuracy and feature FD");
  }

  bool enabled() const { return eval_every > 0; }

  /// Throws ConfigError: a negative cadence; with evaluation on, fewer than 4 samples (precision
  /// and recall need k + 1 = 4), no feature network, or --inception without --eval-ref (or the
  /// reverse).
  void validate() const;
};

}  // namespace sit::train
