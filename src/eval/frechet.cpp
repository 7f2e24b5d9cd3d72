#include <sit/eval/frechet.h>

#include <torch/torch.h>

#include <limits>

namespace sit::eval {

GaussianStatistics gaussian_statistics(const torch::Tensor& features) {
  TORCH_CHECK(features.dim() == 2 && features.size(0) >= 2, "features (N >= 2, D), but got ", features.sizes());
  auto x = features.to(torch::kFloat64);
  auto mean = x.mean(0);
  auto centred = x - mean;
  return {mean, centred.t().matmul(centred) / static_cast<double>(x.size(0) - 1)};
}

namespace {

// Eigenvalues of a symmetric PSD matrix (D, D) below its numerical rank's tolerance,
// D * eps(float64) * the largest, are rounding noise: 0. (Without this a rank-deficient covariance,
// N <= D features, leaves ~D noise eigenvalues whose square roots add up: the FID of a set of 5
// against itself came to -2e-4.)
torch::Tensor drop_noise(const torch::Tensor& eigenvalues) {
  const double tolerance = static_cast<double>(eigenvalues.size(0)) * std::numeric_limits<double>::epsilon() *
                           eigenvalues.abs().max().item<double>();
  return eigenvalues.masked_fill(eigenvalues <= tolerance, 0.0);
}

}  // namespace

torch::Tensor sqrt_psd(const torch::Tensor& matrix) {
  auto symmetric = (matrix + matrix.t()) / 2;
  auto [eigenvalues, eigenvectors] = torch::linalg_eigh(symmetric, "L");
  return eigenvectors.matmul(torch::diag(drop_noise(eigenvalues).sqrt())).matmul(eigenvectors.t());
}

double frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b) {
  TORCH_CHECK(a.mean.sizes() == b.mean.sizes() && a.covariance.sizes() == b.covariance.sizes(),
              "statistics of the same dimension, but got ", a.mean.sizes(), " and ", b.mean.sizes());
  const auto s1 = a.covariance.to(torch::kFloat64), s2 = b.covariance.to(torch::kFloat64);
  const auto root1 = sqrt_psd(s1);
  // tr(sqrt(M)) for the symmetric PSD M = sqrt(S1) S2 sqrt(S1) is the sum of sqrt of its eigenvalues.
  auto m = root1.matmul(s2).matmul(root1);
  auto cross = drop_noise(torch::linalg_eigvalsh((m + m.t()) / 2, "L")).sqrt().sum();
  auto mean_term = (a.mean.to(torch::kFloat64) - b.mean.to(torch::kFloat64)).square().sum();
  return (mean_term + s1.trace() + s2.trace() - 2 * cross).item<double>();
}

}  // namespace sit::eval
