// The training loss beyond the official one: logit-normal times (SD3's draws, mapped onto the
// training interval as LightningDiT maps them) and LightningDiT's cosine loss, against
// tests/data/transport/training_loss_reference.npz (make_training_loss_reference.py), and the
// settings' one-line errors.
#include "support/catch_torch.h"
#include <sit/io/npy.h>
#include <sit/transport/transport.h>

#include <limits>
#include <string>
#include <utility>

namespace training_loss_test {

using namespace sit::transport;

const sit::io::NamedArrays& reference() {
  static const auto arrays = sit::io::read_npz(std::string(SIT_TEST_DATA_DIR) + "/transport/training_loss_reference.npz");
  return arrays;
}
torch::Tensor array(const std::string& key) { return reference()[key]; }

// test_transport.cpp's stand-in for a network.
torch::Tensor stand_in_model(const torch::Tensor& x, const torch::Tensor& t) {
  return 0.5 * x.sin() + expand_t_like_x(t, x);
}

TransportOptions logit_normal(double mean, double scale) {
  return TransportOptions().time_sampling(TimeSampling::LogitNormal).logit_mean(mean).logit_std(scale);
}

// The fixture's cases: name, transport, and the training interval the script mapped onto.
struct Case {
  const char* name;
  TransportOptions options;
  Interval interval;
};
std::vector<Case> cases() {
  return {{"lognorm", logit_normal(0.0, 1.0), {0.0, 1.0}},
          {"meanflow", logit_normal(0.4, 1.0), {0.0, 1.0}},
          {"vp", logit_normal(-0.8, 1.5).path_type(PathType::VP).train_eps(0.1), {0.0, 0.9}},
          {"score", logit_normal(0.5, 0.7).prediction(ModelType::Score).train_eps(0.1), {0.1, 0.9}}};
}

TEST_CASE("logit-normal training times are SD3's draws with the mean negated, on the training interval",
          "[transport][loss]") {
  const auto v = array("v");  // (6,) float64 uniforms on the 2^-24 grid of the training draws
  for (const auto& c : cases()) {
    INFO(c.name);
    Transport transport(c.options);
    REQUIRE(transport.check_interval().t0 == c.interval.t0);
    REQUIRE(transport.check_interval().t1 == c.interval.t1);
    const auto expected = array(std::string("t_") + c.name);
    // In double the quantile (ATen's erfinv) and the reference's (statistics.NormalDist) differ by
    // at most 1.4e-12 (measured; in the tails, at u = 2^-24 and 1 - 2^-24).
    auto t = transport.training_times(v);
    INFO("largest difference " << (t - expected).abs().max().item<double>());
    CHECK(torch::allclose(t, expected, 0, 1e-11));
    // The trainer's float32 uniforms: times rounded once to float (ulp 6e-8 below 1).
    auto t32 = transport.training_times(v.to(torch::kFloat32));
    CHECK(t32.scalar_type() == torch::kFloat32);
    CHECK(torch::allclose(t32.to(torch::kFloat64), expected, 0, 6e-8));
  }
}

TEST_CASE("the velocity loss at logit-normal times equals the reference, with the cosine loss added",
          "[transport][loss]") {
  const auto x1 = array("x1"), x0 = array("x0");  // (6, 3, 4, 4)
  for (const auto& c : cases()) {
    if (c.interval.t0 != 0.0 || c.interval.t1 != 1.0) continue;  // the velocity cases
    INFO(c.name);
    Transport transport(c.options);
    auto losses = transport.training_losses(stand_in_model, x1, x0, transport.training_times(array("v")));
    CHECK(torch::allclose(losses.loss, array(std::string("loss_") + c.name), 1e-12, 1e-12));
  }
  // Without given times, training_losses draws uniforms and maps them the same way.
  Transport meanflow(logit_normal(0.4, 1.0));
  auto gen = at::detail::createCPUGenerator(3), replay = at::detail::createCPUGenerator(3);
  auto drawn = meanflow.training_losses(stand_in_model, x1, std::nullopt, std::nullopt, gen);
  auto noise = torch::randn(x1.sizes(), replay, x1.options());
  auto u = torch::rand({6}, replay, torch::kFloat32);
  CHECK(torch::equal(drawn.loss, meanflow.training_losses(stand_in_model, x1, noise, meanflow.training_times(u).to(x1.options())).loss));

  // mse + w (1 - cos) over 2 x 2 x 3 patches, LightningDiT's total at w = 1.
  Transport transport(logit_normal(0.0, 1.0).cosine_loss_weight(0.5), /*patch_size=*/2);
  auto losses = transport.training_losses(stand_in_model, x1, x0, transport.training_times(array("v")));
  auto expected = array("loss_lognorm") + 0.5 * array("cos_patch2_lognorm");
  CHECK(torch::allclose(losses.loss, expected, 1e-12, 1e-12));
}

TEST_CASE("the cosine loss is LightningDiT's 1 - cos over channels, patches and whole samples", "[transport][loss]") {
  const auto pred = array("pred"), target = array("target");  // (6, 3, 4, 4) float64
  using Vectors = std::pair<CosineLossOver, const char*>;
  for (auto [over, key] : {Vectors{CosineLossOver::Channel, "cos_channel"}, Vectors{CosineLossOver::Patch, "cos_patch2"},
                           Vectors{CosineLossOver::Sample, "cos_sample"}}) {
    INFO(key);
    auto loss = cosine_loss(pred, target, over, 2);
    REQUIRE(loss.sizes() == torch::IntArrayRef({6}));
    // Measured: 1e-15 (the same ATen cosine_similarity as the reference's torch call).
    CHECK(torch::allclose(loss, array(key), 0, 1e-10));
  }
  // Patches of 1 are LightningDiT's channel vectors (its XL/1 on 32-channel latents).
  CHECK(torch::allclose(cosine_loss(pred, target, CosineLossOver::Patch, 1), array("cos_channel"), 0, 1e-12));
}

TEST_CASE("the cosine loss's gradient: none where the prediction is parallel, none along it, none for 1 channel",
          "[transport][loss]") {
  const auto target = array("target");
  // Parallel: the loss is 0 and at its minimum.
  auto parallel = (2.5 * target).requires_grad_();
  auto loss = cosine_loss(parallel, target, CosineLossOver::Patch, 2);
  CHECK(torch::allclose(loss, array("cos_parallel"), 0, 1e-12));
  loss.sum().backward();
  CHECK(parallel.grad().abs().max().item<double>() < 1e-12);

  // Otherwise the gradient is orthogonal to the prediction (the cosine ignores its scale), and not 0.
  for (auto over : {CosineLossOver::Channel, CosineLossOver::Patch, CosineLossOver::Sample}) {
    auto pred = array("pred").clone().requires_grad_();
    cosine_loss(pred, target, over, 2).sum().backward();
    CHECK(pred.grad().abs().max().item<double>() > 1e-3);
    CHECK((pred.grad() * pred).sum().abs().item<double>() < 1e-12);
  }

  // One channel (Fashion-MNIST pixels): the channel vectors' cosine is +-1, with no gradient.
  auto gray = array("pred").slice(1, 0, 1).clone().requires_grad_();  // (6, 1, 4, 4)
  auto gray_target = target.slice(1, 0, 1);
  cosine_loss(gray, gray_target, CosineLossOver::Channel, 2).sum().backward();
  CHECK(gray.grad().abs().max().item<double>() < 1e-12);  // rounding (1.1e-16 in Python torch 1.13)
}

TEST_CASE("time sampling and cosine loss settings: one-line errors naming the setting", "[transport][loss]") {
  CHECK_THROWS_WITH(Transport(logit_normal(0.0, 0.0)), "logit_std 0: must be positive");
  CHECK_THROWS_WITH(Transport(logit_normal(std::numeric_limits<double>::infinity(), 1.0)),
                    Catch::Contains("logit_mean") && Catch::Contains("must be finite"));
  CHECK_THROWS_WITH(Transport(TransportOptions().logit_mean(0.4)),
                    "logit_mean 0.4: needs time_sampling logit-normal");
  CHECK_THROWS_WITH(Transport(TransportOptions().cosine_loss_weight(-1)), "cosine_loss_weight -1: must not be negative");
  CHECK_THROWS_WITH(Transport(TransportOptions().cosine_loss_weight(1).prediction(ModelType::Noise)),
                    "cosine_loss_weight 1: compares velocities: it needs prediction velocity, not noise");
  CHECK_NOTHROW(Transport(TransportOptions().prediction(ModelType::Noise)));  // weight 0: off
  CHECK_THROWS_WITH(sit::config::parse_enum<TimeSampling>("lognorm"),
                    Catch::Contains("'lognorm'") && Catch::Contains("uniform or logit-normal"));
}

}  // namespace training_loss_test
