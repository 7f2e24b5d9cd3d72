// The Fréchet distance against closed forms: 1-D and commuting Gaussians, the 2x2 identity
// (tr sqrt M)^2 = tr M + 2 sqrt(det M) for non-commuting covariances, and a set against itself.

#include <cmath>

#include "support/catch_torch.h"
#include <sit/eval/frechet.h>

namespace {

using sit::eval::frechet_distance;
using sit::eval::GaussianStatistics;

GaussianStatistics gaussian(std::vector<double> mean, std::vector<double> covariance) {
  const auto d = static_cast<int64_t>(mean.size());
  return {torch::tensor(mean, torch::kFloat64), torch::tensor(covariance, torch::kFloat64).reshape({d, d})};
}

}  // namespace

TEST_CASE("gaussian_statistics are numpy's mean and unbiased covariance", "[eval][frechet]") {
  auto features = torch::tensor({1.0, 2.0, 3.0, 5.0, 2.0, 0.0}, torch::kFloat32).reshape({3, 2});
  auto statistics = sit::eval::gaussian_statistics(features);
  CHECK(statistics.mean.scalar_type() == torch::kFloat64);
  CHECK(torch::allclose(statistics.mean, torch::tensor({2.0, 7.0 / 3.0}, torch::kFloat64)));
  // numpy.cov([[1, 2], [3, 5], [2, 0]], rowvar=False)
  auto expected = torch::tensor({1.0, 1.5, 1.5, 19.0 / 3.0}, torch::kFloat64).reshape({2, 2});
  CHECK(torch::allclose(statistics.covariance, expected));
}

TEST_CASE("sqrt_psd squares back to its matrix", "[eval][frechet]") {
  auto a = torch::randn({6, 6}, torch::kFloat64);
  auto matrix = a.matmul(a.t());
  auto root = sit::eval::sqrt_psd(matrix);
  CHECK(torch::allclose(root, root.t()));
  CHECK(torch::allclose(root.matmul(root), matrix, 1e-9, 1e-9));
}

TEST_CASE("Fréchet distance of 1-D and of commuting Gaussians", "[eval][frechet]") {
  // 1-D: (m1 - m2)^2 + (s1 - s2)^2.
  CHECK(frechet_distance(gaussian({1.0}, {4.0}), gaussian({-2.0}, {9.0})) == Approx(9.0 + 1.0));
  // Diagonal: |dmu|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
  auto a = gaussian({0.0, 1.0, 2.0}, {1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.25});
  auto b = gaussian({1.0, 1.0, 0.0}, {9.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0});
  CHECK(frechet_distance(a, b) == Approx(5.0 + 4.0 + 1.0 + 0.25));
}

TEST_CASE("Fréchet distance of non-commuting 2x2 covariances", "[eval][frechet]") {
  // For 2x2 PSD M: (tr sqrt M)^2 = tr M + 2 sqrt(det M); with M = sqrt(S1) S2 sqrt(S1),
  // tr M = tr(S1 S2) and det M = det S1 det S2.
  auto a = gaussian({0.5, -1.0}, {2.0, 0.8, 0.8, 1.0});
  auto b = gaussian({0.0, 0.0}, {1.0, -0.3, -0.3, 3.0});
  const double tr_s1_s2 = a.covariance.matmul(b.covariance).trace().item<double>();
  const double det = a.covariance.det().item<double>() * b.covariance.det().item<double>();
  const double expected = 0.25 + 1.0 + 3.0 + 4.0 - 2 * std::sqrt(tr_s1_s2 + 2 * std::sqrt(det));
  CHECK(frechet_distance(a, b) == Approx(expected).epsilon(1e-12));
  CHECK(frechet_distance(b, a) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("Fréchet distance of a feature set to itself is 0, and grows with a shift", "[eval][frechet]") {
  torch::manual_seed(0);
  auto features = torch::randn({500, 64}).matmul(torch::randn({64, 64}));  // correlated, float32
  auto statistics = sit::eval::gaussian_statistics(features);
  CHECK(std::abs(frechet_distance(statistics, statistics)) < 1e-8 * statistics.covariance.trace().item<double>());
  // A shift by a constant vector c moves only the mean term: FD = |c|^2.
  auto shifted = sit::eval::gaussian_statistics(features.to(torch::kFloat64) + 0.1);
  CHECK(frechet_distance(statistics, shifted) == Approx(64 * 0.01).epsilon(1e-6));
}
