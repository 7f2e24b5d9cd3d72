// Training losses against the loss formulas written out per sample, the drift and score maps on
// the Gaussian oracle for every prediction, and the prior log-density.
#include "support/catch_torch.h"
#include <sit/transport/transport.h>

#include <cmath>

#include "gaussian_oracle.h"

using namespace sit::transport;

namespace {

// A deterministic stand-in for a network: any smooth function of (x, t) will do for losses.
torch::Tensor fake_model(const torch::Tensor& x, const torch::Tensor& t) {
  return 0.5 * x.sin() + expand_t_like_x(t, x);
}

}  // namespace

TEST_CASE("training_losses match the per-sample formulas", "[transport][loss]") {
  auto gen = at::detail::createCPUGenerator(7);
  auto x1 = torch::randn({5, 2, 3, 3}, gen, torch::kFloat64);
  auto x0 = torch::randn({5, 2, 3, 3}, gen, torch::kFloat64);
  auto t = torch::tensor({0.1, 0.3, 0.5, 0.7, 0.9}, torch::kFloat64);
  const int64_t dims = 2 * 3 * 3;

  struct Case {
    ModelType prediction;
    WeightType weight;
  };
  for (const auto& c :
       {Case{ModelType::Velocity, WeightType::None}, Case{ModelType::Noise, WeightType::None},
        Case{ModelType::Noise, WeightType::Velocity},
        Case{ModelType::Score, WeightType::Likelihood}, Case{ModelType::Score, WeightType::None}}) {
    Transport transport(TransportOptions().prediction(c.prediction).loss_weight(c.weight));
    auto losses = transport.training_losses(fake_model, x1, x0, t);
    REQUIRE(losses.loss.sizes() == torch::IntArrayRef({5}));
    for (int64_t n = 0; n < 5; ++n) {
      // Linear path: alpha = t, sigma = 1 - t, d_alpha = 1, d_sigma = -1,
      // drift_var = (1 - t)^2 / t + (1 - t).
      const double tn = t[n].item<double>(), sigma = 1 - tn;
      const double drift_var = sigma * sigma / tn + sigma;
      const double weight = c.weight == WeightType::Velocity     ? std::pow(drift_var / sigma, 2)
                            : c.weight == WeightType::Likelihood ? drift_var / (sigma * sigma)
                                                                 : 1.0;
      auto xt = tn * x1[n] + sigma * x0[n];
      auto pred = 0.5 * xt.sin() + tn;
      CHECK(torch::allclose(losses.pred[n], pred, 1e-12, 1e-12));
      torch::Tensor error;
      if (c.prediction == ModelType::Velocity) error = pred - (x1[n] - x0[n]);
      if (c.prediction == ModelType::Noise) error = pred - x0[n];
      if (c.prediction == ModelType::Score) error = pred * sigma + x0[n];
      const double expected = weight * error.pow(2).sum().item<double>() / dims;
      CHECK(losses.loss[n].item<double>() == Approx(expected).epsilon(1e-12));
    }
  }
}

TEST_CASE("training_losses draws x0 then t from the generator on the training interval",
          "[transport][loss]") {
  Transport transport(TransportOptions().path_type(PathType::VP));  // train interval [0, 1 - 1e-5]
  auto x1 = torch::randn({64, 3});
  auto gen = at::detail::createCPUGenerator(3);
  auto losses = transport.training_losses(fake_model, x1, std::nullopt, std::nullopt, gen);

  auto replay = at::detail::createCPUGenerator(3);
  auto x0 = torch::randn({64, 3}, replay);
  auto t = torch::rand({64}, replay) * (1 - 1e-5);
  auto expected = transport.training_losses(fake_model, x1, x0, t);
  CHECK(torch::equal(losses.loss, expected.loss));
  CHECK(t.max().item<double>() < 1 - 1e-5);
}

TEST_CASE("drift and score agree across predictions on the Gaussian oracle", "[transport]") {
  auto oracle = sit::test::GaussianOracle::rotated({0.5, -1.0, 2.0}, {0.3, 1.0, 2.5}, 11);
  auto gen = at::detail::createCPUGenerator(5);
  auto x = torch::randn({6, 3}, gen, torch::kFloat64);
  auto t = torch::tensor({0.05, 0.2, 0.4, 0.6, 0.8, 0.95}, torch::kFloat64);
  for (PathType path_type : {PathType::Linear, PathType::GVP, PathType::VP}) {
    Transport velocity(TransportOptions().path_type(path_type));
    const Path& path = velocity.path_sampler();
    auto v = oracle.velocity(path, x, t), s = oracle.score(path, x, t);
    auto eps = oracle.noise(path, x, t);
    for (ModelType prediction : {ModelType::Velocity, ModelType::Score, ModelType::Noise}) {
      Transport transport(TransportOptions().path_type(path_type).prediction(prediction));
      auto output = prediction == ModelType::Velocity ? v
                    : prediction == ModelType::Score  ? s
                                                      : eps;
      CHECK(torch::allclose(transport.drift_from_output(output, x, t), v, 1e-9, 1e-9));
      CHECK(torch::allclose(transport.score_from_output(output, x, t), s, 1e-9, 1e-9));
      ModelFn model = [&](const torch::Tensor&, const torch::Tensor&) { return output; };
      CHECK(torch::equal(transport.get_drift(model)(x, t),
                         transport.drift_from_output(output, x, t)));
      CHECK(torch::equal(transport.get_score(model)(x, t),
                         transport.score_from_output(output, x, t)));
    }
  }
}

TEST_CASE("prior_logp is the standard normal log-density", "[transport]") {
  Transport transport;
  auto z = torch::randn({3, 2, 4, 4}, torch::kFloat64);
  auto logp = transport.prior_logp(z);
  for (int64_t n = 0; n < 3; ++n) {
    const double expected = -16.0 * std::log(2 * M_PI) - 0.5 * z[n].pow(2).sum().item<double>();
    CHECK(logp[n].item<double>() == Approx(expected).epsilon(1e-14));
  }
}
