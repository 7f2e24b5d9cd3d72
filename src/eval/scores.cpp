#include <sit/eval/scores.h>

#include <sit/eval/inception_score.h>
#include <sit/eval/precision_recall.h>

namespace sit::eval {

void add_inception_scores(Scores& scores, const InceptionFeatures& samples, const InceptionStatistics& reference,
                          InputMode mode) {
  const auto statistics = inception_statistics(samples, mode);
  scores.samples = samples.pool_3.size(0);
  scores.fid = frechet_distance(statistics.pool, reference.pool);
  scores.sfid = frechet_distance(statistics.spatial, reference.spatial);
  scores.inception_score = inception_score(samples.logits);
  if (reference.pool_3.defined()) {
    const auto pr = precision_recall(reference.pool_3, samples.pool_3);
    scores.precision = pr.precision;
    scores.recall = pr.recall;
  }
  scores.input_mode = mode;
}

void add_classifier_scores(Scores& scores, const ClassifierOutputs& samples, const torch::Tensor& labels,
                           const GaussianStatistics& reference) {
  scores.samples = samples.logits.size(0);
  scores.accuracy = accuracy(samples.logits, labels);
  scores.classifier_fd = frechet_distance(gaussian_statistics(samples.features), reference);
}

}  // namespace sit::eval
