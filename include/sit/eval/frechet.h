#pragma once
// The Fréchet distance between two Gaussians fitted to feature sets (Heusel et al. 2017, FID):
//   FD = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(sqrt(S1) S2 sqrt(S1))),
// in float64, the matrix square roots taken by symmetric eigendecomposition.

#include <torch/types.h>

namespace sit::eval {

struct GaussianStatistics {
  torch::Tensor mean;        // (D,) float64
  torch::Tensor covariance;  // (D, D) float64, unbiased (numpy.cov's rowvar=False)
};

/// The mean and covariance of features (N, D), N >= 2.
GaussianStatistics gaussian_statistics(const torch::Tensor& features);

/// The square root of a symmetric positive semi-definite matrix (D, D): V diag(sqrt(l)) V^T from its
/// eigendecomposition, eigenvalues up to D * eps(float64) * the largest counted as 0 (rounding
/// leaves such values, of either sign, where the matrix is singular).
torch::Tensor sqrt_psd(const torch::Tensor& matrix);

/// The Fréchet distance between N(a.mean, a.covariance) and N(b.mean, b.covariance).
double frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b);

}  // namespace sit::eval
