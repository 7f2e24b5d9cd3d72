// The ADM evaluator's metrics against its own definitions on random features (tests/data/eval/
// metrics_reference.npz from make_inception_fixtures.py: ADM's scipy FID, pytorch-fid's and
// torch-fidelity's, ADM's Inception Score and ManifoldEstimator), closed forms, and the
// statistics file.

#include <sit/eval/frechet.h>
#include <sit/eval/inception_score.h>
#include <sit/eval/precision_recall.h>
#include <sit/eval/statistics_file.h>
#include <sit/io/npy.h>

#include <cmath>
#include <filesystem>

#include "support/catch_torch.h"
#include "support/files.h"

namespace metrics_test {

sit::io::NamedArrays reference() {
  return sit::io::read_npz(std::string(SIT_TEST_DATA_DIR) + "/eval/metrics_reference.npz");
}

double scalar(sit::io::NamedArrays& arrays, const std::string& key) { return arrays[key].item<double>(); }

}  // namespace metrics_test

using metrics_test::scalar;

TEST_CASE("FID of random features equals ADM's, pytorch-fid's and torch-fidelity's", "[eval][metrics]") {
  auto r = metrics_test::reference();
  const double fid = sit::eval::frechet_distance(sit::eval::gaussian_statistics(r["sample"]),
                                                 sit::eval::gaussian_statistics(r["ref"]));
  for (const std::string key : {"fid_adm", "fid_pytorch_fid", "fid_torch_fidelity"}) {
    CAPTURE(key, fid, scalar(r, key));
    CHECK(std::abs(fid - scalar(r, key)) <= 1e-6 * scalar(r, key));
  }
}

TEST_CASE("Inception Score: ADM's splits on random logits, and its closed forms", "[eval][metrics]") {
  auto r = metrics_test::reference();
  // ADM computes in float32, this in float64.
  CHECK(sit::eval::inception_score(r["logits"], 100) == Approx(scalar(r, "inception_score_split100")).epsilon(1e-5));
  CHECK(sit::eval::inception_score(r["logits"]) == Approx(scalar(r, "inception_score_split5000")).epsilon(1e-5));
  CHECK(scalar(r, "inception_score_split100") != Approx(scalar(r, "inception_score_split5000")).epsilon(1e-3));
  // Identical predictions: 1. Confident and spread evenly over K classes: K.
  CHECK(sit::eval::inception_score(torch::zeros({8, 5})) == Approx(1.0).epsilon(1e-12));
  auto confident = 100 * torch::eye(5).repeat({2, 1});  // (10, 5)
  CHECK(sit::eval::inception_score(confident) == Approx(5.0).epsilon(1e-12));
}

TEST_CASE("Precision and recall: ADM's ManifoldEstimator on random features, and limiting cases",
          "[eval][metrics]") {
  auto r = metrics_test::reference();
  const auto pr = sit::eval::precision_recall(r["ref"], r["sample"]);
  // Fractions of 250 and 300 points: equal, not close.
  CHECK(pr.precision == scalar(r, "precision"));
  CHECK(pr.recall == scalar(r, "recall"));

  auto points = torch::randn({50, 8});
  const auto same = sit::eval::precision_recall(points, points);
  CHECK(same.precision == 1.0);
  CHECK(same.recall == 1.0);
  const auto apart = sit::eval::precision_recall(points, points + 100);
  CHECK(apart.precision == 0.0);
  CHECK(apart.recall == 0.0);
  // The squared radius is the squared distance to the 3rd nearest other point: on a line at 0, 1, 2, ...
  auto line = torch::arange(10, torch::kFloat32).unsqueeze(1);
  auto radii = sit::eval::manifold_radii(line);
  CHECK(radii[0].item<float>() == 9.0f);  // 0: 1, 2, 3 away
  CHECK(radii[5].item<float>() == 4.0f);  // 5: 4 and 6 are 1 away, 3 and 7 are 2 away
  CHECK_THROWS_WITH(sit::eval::manifold_radii(line.slice(0, 0, 3)), Catch::Contains("needs more than 3 points"));
}

TEST_CASE("Statistics files: ADM's layout, written and read back, bad keys named", "[eval][metrics]") {
  sit::test::TempDir dir;
  auto features = sit::eval::InceptionFeatures{torch::randn({6, 4}), torch::randn({6, 3}), torch::randn({6, 5})};
  const auto statistics = sit::eval::inception_statistics(features, sit::eval::InputMode::PytorchFid);
  const auto path = dir.file("stats.npz");
  sit::eval::write_statistics(path, statistics);
  auto arrays = sit::io::read_npz(path);
  for (const std::string key : {"mu", "sigma", "mu_s", "sigma_s"}) CHECK(arrays[key].scalar_type() == torch::kFloat64);
  const auto back = sit::eval::read_statistics(path);
  REQUIRE(back);
  CHECK(torch::equal(back->pool.covariance, statistics.pool.covariance));
  CHECK(torch::equal(back->spatial.mean, statistics.spatial.mean));
  CHECK(torch::equal(back->pool_3, features.pool_3));
  CHECK(back->input_mode == sit::eval::InputMode::PytorchFid);

  // An ADM reference batch: statistics without input_mode or features.
  arrays.erase("input_mode");
  arrays.erase("pool_3");
  sit::io::write_npz(path, arrays);
  const auto adm = sit::eval::read_statistics(path);
  REQUIRE(adm);
  CHECK(!adm->input_mode);
  CHECK(!adm->pool_3.defined());

  arrays["sigma_s"] = torch::zeros({5, 4}, torch::kFloat64);
  sit::io::write_npz(path, arrays);
  CHECK_THROWS_WITH(sit::eval::read_statistics(path), Catch::Contains("'sigma_s' is Double [5, 4], expected a float array of shape (5, 5)"));
  sit::io::NamedArrays images;
  images.insert("arr_0", torch::zeros({2, 8, 8, 3}, torch::kUInt8));
  sit::io::write_npz(path, images);
  CHECK(!sit::eval::read_statistics(path));
}
