#pragma once
// The Inception Score (Salimans et al. 2016) as the ADM evaluator computes it: p = softmax(logits)
// per image; the images in consecutive splits of split_size (the last may be shorter); per split
// exp(mean_i KL(p_i || mean_j p_j)); the mean over splits. ADM's logits are the graph's 1008
// pool_3 W without the bias (InceptionFeatures::logits), its split 5,000.

#include <torch/types.h>

namespace sit::eval {

/// logits (N, K), N >= 1; computed in float64.
double inception_score(const torch::Tensor& logits, int64_t split_size = 5000);

}  // namespace sit::eval
