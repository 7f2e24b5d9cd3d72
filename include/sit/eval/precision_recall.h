#pragma once
// Improved precision and recall (Kynkäänniemi et al. 2019) as the ADM evaluator's ManifoldEstimator
// computes them: each set's manifold is the union of balls around its points whose squared radius
// is the squared L2 distance to the k-th nearest other point of the set (k = 3). Precision is the
// fraction of samples inside the reference manifold, recall the fraction of reference points inside
// the samples' (a point is inside a ball when its squared distance is <= the radius).
//
// Distances are |u|^2 - 2 u.v + |v|^2 clamped at 0, in float32, as ADM's float32 path; ADM's
// TensorFlow code first tries float16 (and uses it when no distance overflows), so its figures can
// differ from these by points lying within float16 rounding of a ball's edge.

#include <torch/types.h>

namespace sit::eval {

struct PrecisionRecall {
  double precision = 0;
  double recall = 0;
};

/// The squared radius of each point of features (N, D): its k-th smallest squared distance to the
/// others (index k of its sorted distances, the point itself at index 0). N > k. (N,) float32.
torch::Tensor manifold_radii(const torch::Tensor& features, int64_t k = 3);

/// reference (N1, D), samples (N2, D), N1 and N2 > k.
PrecisionRecall precision_recall(const torch::Tensor& reference, const torch::Tensor& samples, int64_t k = 3);

}  // namespace sit::eval
