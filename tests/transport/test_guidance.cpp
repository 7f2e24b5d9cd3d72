// Classifier-free guidance on a labelled stand-in model: the guided channels, the interval (and
// times past the ends of [0, 1]), one forward per call, the conditional and doubled (official)
// forms giving the same samples, and an adaptive solver's steps over the doubled state; CFG-Zero*,
// guidance rescale and autoguidance against hand computations, in both forms and the interval;
// their settings' checks.
#include "support/catch_torch.h"
#include <sit/transport/guidance.h>
#include <sit/transport/sampler.h>

using namespace sit::transport;

namespace {

// out = x * (1 + y) + t per channel, labels and times broadcast: a label-dependent field.
struct LabelledModel {
  int64_t calls = 0;
  int64_t rows = 0;
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    ++calls;
    rows = x.size(0);
    auto scale = (1 + y.to(x.scalar_type())).view({-1, 1, 1, 1});
    return x * scale +
           t.view({-1, 1, 1, 1}) * torch::arange(1, x.size(1) + 1, x.options()).view({1, -1, 1, 1});
  }
};

}  // namespace

TEST_CASE("conditional-batch guidance mixes the first 3 channels, or all",
          "[transport][guidance]") {
  LabelledModel model;
  auto forward = [&model](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return model(x, t, y);
  };
  auto x = torch::randn({2, 4, 3, 3}, torch::kFloat64);
  auto t = torch::full({2}, 0.5, torch::kFloat64);
  auto y = torch::tensor({3, 7}, torch::kInt64);
  auto cond = model(x, t, y), uncond = model(x, t, torch::full({2}, 10, torch::kInt64));
  auto mixed = uncond + 4.0 * (cond - uncond);

  model.calls = 0;
  auto first_three = classifier_free_guidance(forward, y, GuidanceOptions(4.0, 10))(x, t);
  CHECK(model.calls == 1);
  CHECK(model.rows == 4);
  CHECK(torch::allclose(first_three.narrow(1, 0, 3), mixed.narrow(1, 0, 3)));
  CHECK(torch::equal(first_three.narrow(1, 3, 1), cond.narrow(1, 3, 1)));
  auto all = classifier_free_guidance(
      forward, y, GuidanceOptions(4.0, 10).guide_all_channels(true))(x, t);
  CHECK(torch::allclose(all, mixed));
}

TEST_CASE("outside the guidance interval only the conditional batch runs",
          "[transport][guidance]") {
  LabelledModel model;
  auto forward = [&model](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return model(x, t, y);
  };
  auto x = torch::randn({2, 4, 3, 3}, torch::kFloat64);
  auto y = torch::tensor({3, 7}, torch::kInt64);
  auto guided = classifier_free_guidance(forward, y, GuidanceOptions(4.0, 10).cfg_interval({0.2, 0.6}));
  auto outside = guided(x, torch::full({2}, 0.8, torch::kFloat64));
  CHECK(model.rows == 2);
  CHECK(torch::equal(outside, model(x, torch::full({2}, 0.8, torch::kFloat64), y)));
  guided(x, torch::full({2}, 0.6, torch::kFloat64));
  CHECK(model.rows == 4);
  // Per sample: one time inside, one outside.
  auto mixed_times = torch::tensor({0.3, 0.9}, torch::kFloat64);
  auto out = guided(x, mixed_times);
  auto cond = model(x, mixed_times, y);
  CHECK(torch::equal(out[1], cond[1]));
  CHECK_FALSE(torch::equal(out[0], cond[0]));
}

TEST_CASE("the doubled form is forward_with_cfg and samples like the conditional form",
          "[transport][guidance]") {
  LabelledModel model;
  auto forward = [&model](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return model(x, t, y);
  };
  auto z = torch::randn({2, 4, 3, 3});
  auto y = torch::tensor({1, 2}, torch::kInt64);
  GuidanceOptions options(4.0, 10);
  auto doubled = classifier_free_guidance_doubled(forward, y, options);
  auto conditional = classifier_free_guidance(forward, y, options);

  // forward_with_cfg: guided channels equal in both halves, channel 3 each half's own output.
  auto zz = torch::cat({z, z});
  auto t = torch::full({4}, 0.5);
  auto out = doubled(zz, t);
  auto raw = model(zz, t, torch::tensor({1, 2, 10, 10}, torch::kInt64));
  CHECK(torch::equal(out.narrow(0, 0, 2).narrow(1, 0, 3), out.narrow(0, 2, 2).narrow(1, 0, 3)));
  CHECK(torch::equal(out.narrow(1, 3, 1), raw.narrow(1, 3, 1)));
  CHECK(torch::equal(out.narrow(0, 0, 2), conditional(z, t.narrow(0, 0, 2))));

  // A fixed-step sampler: the first half of the doubled state is the conditional sample.
  Sampler sampler{Transport()};
  auto ode = SamplerOptions().ode_method(OdeMethod::Heun2).num_steps(8);
  auto from_doubled = sampler.sample_ode(zz, doubled, ode).sample.narrow(0, 0, 2);
  auto from_conditional = sampler.sample_ode(z, conditional, ode).sample;
  CHECK(torch::equal(from_doubled, from_conditional));
}

TEST_CASE("times past the ends of [0, 1] are guided when the interval reaches that end",
          "[transport][guidance]") {
  // dopri5 over [0, 1] evaluates stages up to t ~ 3 and the official forward_with_cfg guides every
  // call: the default interval [0, 1] guides everywhere, a narrower one does not reach past it.
  LabelledModel model;
  auto forward = [&model](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return model(x, t, y);
  };
  auto z = torch::randn({2, 4, 3, 3}, torch::kFloat64);
  auto y = torch::tensor({3, 7}, torch::kInt64);
  auto zz = torch::cat({z, z});
  auto labels = torch::tensor({3, 7, 10, 10}, torch::kInt64);
  for (double time : {1.5, 3.0, -0.25}) {
    INFO("t = " << time);
    auto t = torch::full({4}, time, torch::kFloat64);
    auto raw = model(zz, t, labels);
    auto cond = raw.narrow(0, 0, 2), uncond = raw.narrow(0, 2, 2);
    auto eps = uncond.narrow(1, 0, 3) + 4.0 * (cond.narrow(1, 0, 3) - uncond.narrow(1, 0, 3));
    auto official = torch::cat({torch::cat({eps, eps}), raw.narrow(1, 3, 1)}, 1);
    auto doubled = classifier_free_guidance_doubled(forward, y, GuidanceOptions(4.0, 10));
    CHECK(torch::allclose(doubled(zz, t), official));
    auto conditional = classifier_free_guidance(forward, y, GuidanceOptions(4.0, 10));
    CHECK(torch::allclose(conditional(z, t.narrow(0, 0, 2)), official.narrow(0, 0, 2)));
  }
  auto late = torch::full({4}, 1.5, torch::kFloat64);
  auto unguided = model(z, late.narrow(0, 0, 2), y);
  auto reaches_end =
      classifier_free_guidance_doubled(forward, y, GuidanceOptions(4.0, 10).cfg_interval({0.2, 1.0}));
  CHECK_FALSE(torch::equal(reaches_end(zz, late).narrow(0, 0, 2), unguided));
  auto stops_short =
      classifier_free_guidance_doubled(forward, y, GuidanceOptions(4.0, 10).cfg_interval({0.2, 0.6}));
  CHECK(torch::equal(stops_short(zz, late).narrow(0, 0, 2), unguided));
}

TEST_CASE("an adaptive solver's step control sees the whole doubled state",
          "[transport][guidance]") {
  // torchdiffeq takes the RMS error over [z; z]. Here channels 0-2 get 0.1 whatever the label and
  // channel 3 gets cos(20 t) from the null label only. With the official first-3-channel guidance
  // the conditional sample moves in a straight line, but the doubled state's second half carries
  // the unconditional channel 3, which the step control must resolve; with every channel guided
  // both halves are equal and the two forms take the same steps.
  auto forward = [](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    auto out = torch::full_like(x, 0.1);
    auto null = y.eq(10).to(x.scalar_type()).view({-1, 1, 1});
    out.select(1, 3).copy_(null * torch::cos(20 * t).view({-1, 1, 1}).expand_as(null));
    return out;
  };
  auto z = torch::randn({2, 4, 3, 3}, at::detail::createCPUGenerator(11));
  auto y = torch::tensor({1, 2}, torch::kInt64);
  Sampler sampler{Transport()};
  auto ode = SamplerOptions().ode_method(OdeMethod::Dopri5).num_steps(10);
  for (bool all_channels : {false, true}) {
    GuidanceOptions options = GuidanceOptions(4.0, 10).guide_all_channels(all_channels);
    auto doubled = sampler.sample_ode(torch::cat({z, z}),
                                      classifier_free_guidance_doubled(forward, y, options), ode);
    auto conditional = sampler.sample_ode(z, classifier_free_guidance(forward, y, options), ode);
    INFO("doubled " << doubled.model_evaluations << " calls, conditional "
                    << conditional.model_evaluations);
    if (all_channels) {
      CHECK(doubled.model_evaluations == conditional.model_evaluations);
      CHECK(torch::allclose(doubled.sample.narrow(0, 0, 2), conditional.sample, 1e-6, 1e-6));
    } else {
      CHECK(doubled.model_evaluations > 2 * conditional.model_evaluations);
      // The first halves agree: z + 0.1 t in channels 0-2, z in channel 3.
      CHECK(torch::allclose(doubled.sample.narrow(0, 0, 2), conditional.sample, 1e-5, 1e-5));
    }
  }
}

namespace {

// Hand computations, one sample and one number at a time.
double hand_dot(const torch::Tensor& a, const torch::Tensor& b) {
  double sum = 0;
  auto fa = a.flatten(), fb = b.flatten();
  for (int64_t i = 0; i < fa.numel(); ++i) sum += fa[i].item<double>() * fb[i].item<double>();
  return sum;
}

double standard_deviation(const torch::Tensor& v) {  // unbiased, as torch.std
  auto flat = v.flatten();
  const int64_t n = flat.numel();
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += flat[i].item<double>() / n;
  double squares = 0;
  for (int64_t i = 0; i < n; ++i) squares += std::pow(flat[i].item<double>() - mean, 2);
  return std::sqrt(squares / (n - 1));
}

// A label-dependent model with random weights: out = W[y] x + b[y] t per channel.
struct RandomLabelledModel {
  torch::Tensor weight, bias;  // (classes, C)
  int64_t calls = 0;
  explicit RandomLabelledModel(uint64_t seed, int64_t classes = 11, int64_t channels = 4) {
    auto generator = at::detail::createCPUGenerator(seed);
    weight = torch::randn({classes, channels}, generator, torch::kFloat64);
    bias = torch::randn({classes, channels}, generator, torch::kFloat64);
  }
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    ++calls;
    return x * weight.index_select(0, y).view({-1, x.size(1), 1, 1}) +
           bias.index_select(0, y).view({-1, x.size(1), 1, 1}) * t.view({-1, 1, 1, 1});
  }
  LabelledForward forward() {
    return [this](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) { return (*this)(x, t, y); };
  }
};

// CFG-Zero*'s s* u + w (c - s* u) over the first k channels of each sample, by hand.
torch::Tensor zero_star_by_hand(const torch::Tensor& cond, const torch::Tensor& uncond, double w, int64_t k) {
  auto out = cond.clone();
  for (int64_t i = 0; i < cond.size(0); ++i) {
    auto c = cond[i].narrow(0, 0, k), u = uncond[i].narrow(0, 0, k);
    const double s = hand_dot(c, u) / (hand_dot(u, u) + 1e-8);
    out[i].narrow(0, 0, k).copy_(s * u + w * (c - s * u));
  }
  return out;
}

}  // namespace

TEST_CASE("CFG-Zero*: the per-sample optimised scale over the guided channels, after K zeroed calls",
          "[transport][guidance]") {
  RandomLabelledModel model(5);
  auto x = torch::randn({3, 4, 2, 2}, at::detail::createCPUGenerator(6), torch::kFloat64);
  auto t = torch::full({3}, 0.4, torch::kFloat64);
  auto y = torch::tensor({2, 5, 7}, torch::kInt64);
  auto cond = model(x, t, y), uncond = model(x, t, torch::full({3}, 10, torch::kInt64));
  for (auto [all_channels, k] : {std::pair{true, int64_t{4}}, {false, int64_t{3}}}) {
    INFO("guided channels " << k);
    auto options = GuidanceOptions(3.0, 10).guide_all_channels(all_channels).cfg_zero_star(true).zero_init_steps(2);
    auto expected = zero_star_by_hand(cond, uncond, 3.0, k);
    // The optimised scale differs from 1 here, so the check can fail.
    CHECK_FALSE(torch::allclose(expected, uncond + 3.0 * (cond - uncond)));

    auto guided = classifier_free_guidance(model.forward(), y, options);
    model.calls = 0;
    for (int call = 0; call < 2; ++call) CHECK(torch::equal(guided(x, t), torch::zeros_like(x)));
    CHECK(model.calls == 0);  // a zeroed call runs no forward
    CHECK(torch::allclose(guided(x, t), expected, 1e-12, 1e-12));
    CHECK(torch::allclose(guided(x, t), expected, 1e-12, 1e-12));  // and stays on

    // The doubled form keeps [z; z]: zeros of the doubled shape, then both halves guided.
    auto doubled = classifier_free_guidance_doubled(model.forward(), y, options);
    auto zz = torch::cat({x, x});
    auto tt = torch::cat({t, t});
    for (int call = 0; call < 2; ++call) CHECK(torch::equal(doubled(zz, tt), torch::zeros_like(zz)));
    auto out = doubled(zz, tt);
    CHECK(torch::allclose(out.narrow(0, 0, 3), expected, 1e-12, 1e-12));
    CHECK(torch::allclose(out.narrow(0, 3, 3).narrow(1, 0, k), expected.narrow(1, 0, k), 1e-12, 1e-12));
  }
  // Outside the interval a call is the conditional output; zeroed calls still count.
  auto interval = GuidanceOptions(3.0, 10).cfg_zero_star(true).zero_init_steps(1).cfg_interval({0.5, 1.0});
  auto guided = classifier_free_guidance(model.forward(), y, interval);
  CHECK(torch::equal(guided(x, t), torch::zeros_like(x)));
  CHECK(torch::equal(guided(x, t), cond));
  CHECK(torch::allclose(guided(x, torch::full({3}, 0.6, torch::kFloat64)),
                        zero_star_by_hand(model(x, torch::full({3}, 0.6, torch::kFloat64), y),
                                          model(x, torch::full({3}, 0.6, torch::kFloat64), torch::full({3}, 10, torch::kInt64)),
                                          3.0, 3),
                        1e-12, 1e-12));
}

TEST_CASE("guidance rescale: phi out std(cond) / std(out) + (1 - phi) out per sample; phi 0 is CFG",
          "[transport][guidance]") {
  RandomLabelledModel model(8);
  auto x = torch::randn({2, 4, 3, 3}, at::detail::createCPUGenerator(9), torch::kFloat64);
  auto t = torch::full({2}, 0.7, torch::kFloat64);
  auto y = torch::tensor({1, 4}, torch::kInt64);
  auto cond = model(x, t, y), uncond = model(x, t, torch::full({2}, 10, torch::kInt64));
  auto cfg = uncond + 4.0 * (cond - uncond);
  auto all = GuidanceOptions(4.0, 10).guide_all_channels(true);
  CHECK(torch::equal(classifier_free_guidance(model.forward(), y, all.guidance_rescale(0.0))(x, t),
                     classifier_free_guidance(model.forward(), y, all)(x, t)));
  for (double phi : {0.7, 1.0}) {
    INFO("phi " << phi);
    auto expected = cfg.clone();
    for (int64_t i = 0; i < 2; ++i) {
      const double ratio = standard_deviation(cond[i]) / standard_deviation(cfg[i]);
      expected[i].copy_(phi * cfg[i] * ratio + (1 - phi) * cfg[i]);
    }
    CHECK_FALSE(torch::allclose(expected, cfg));
    auto options = GuidanceOptions(all).guidance_rescale(phi);
    CHECK(torch::allclose(classifier_free_guidance(model.forward(), y, options)(x, t), expected, 1e-10, 1e-12));
    auto doubled = classifier_free_guidance_doubled(model.forward(), y, options);
    auto out = doubled(torch::cat({x, x}), torch::cat({t, t}));
    CHECK(torch::allclose(out, torch::cat({expected, expected}), 1e-10, 1e-12));
  }
  // phi = 1 gives each sample the conditional output's standard deviation.
  auto full = classifier_free_guidance(model.forward(), y, GuidanceOptions(all).guidance_rescale(1.0))(x, t);
  for (int64_t i = 0; i < 2; ++i) CHECK(standard_deviation(full[i]) == Approx(standard_deviation(cond[i])));
}

TEST_CASE("autoguidance: guide + w (main - guide), both on the labels y; a guide equal to the model is the model",
          "[transport][guidance]") {
  RandomLabelledModel main_model(12, 10), weak(13, 10);  // no null row: labels 0-9 only
  std::vector<torch::Tensor> guide_labels;
  LabelledForward guide = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    guide_labels.push_back(y);
    return weak(x, t, y);
  };
  auto x = torch::randn({2, 4, 2, 2}, at::detail::createCPUGenerator(14), torch::kFloat64);
  auto t = torch::full({2}, 0.3, torch::kFloat64);
  auto y = torch::tensor({3, 9}, torch::kInt64);
  auto m = main_model(x, t, y), g = weak(x, t, y);
  auto options = GuidanceOptions(2.5, /*null_label, unused*/ 1000);
  auto out = classifier_free_guidance(main_model.forward(), y, options, guide)(x, t);
  auto expected = m.clone();
  expected.narrow(1, 0, 3).copy_(g.narrow(1, 0, 3) + 2.5 * (m.narrow(1, 0, 3) - g.narrow(1, 0, 3)));
  CHECK(torch::allclose(out, expected, 1e-12, 1e-12));
  REQUIRE(guide_labels.size() == 1);
  CHECK(torch::equal(guide_labels[0], y));

  // The doubled form: the second half's unguided channel is the guide's.
  auto doubled = classifier_free_guidance_doubled(main_model.forward(), y, options, guide)(
      torch::cat({x, x}), torch::cat({t, t}));
  CHECK(torch::allclose(doubled.narrow(0, 0, 2), expected, 1e-12, 1e-12));
  CHECK(torch::equal(doubled.narrow(0, 2, 2).narrow(1, 3, 1), g.narrow(1, 3, 1)));

  // Outside the interval the guide is not called.
  guide_labels.clear();
  auto late = torch::full({2}, 0.9, torch::kFloat64);
  auto interval = classifier_free_guidance(main_model.forward(), y, GuidanceOptions(options).cfg_interval({0.0, 0.5}), guide);
  CHECK(torch::equal(interval(x, late), main_model(x, late, y)));
  CHECK(guide_labels.empty());

  // A guide equal to the model: the model's own output, whatever the weight and variant.
  for (double w : {1.5, 4.0, 12.0}) {
    INFO("w " << w);
    auto same = GuidanceOptions(w, 1000).guide_all_channels(true);
    CHECK(torch::equal(classifier_free_guidance(main_model.forward(), y, same, main_model.forward())(x, t), m));
    auto conditioned = condition(main_model.forward(), y, same, main_model.forward());
    REQUIRE(conditioned.doubled);
    CHECK(torch::equal(conditioned.samples(conditioned.model(torch::cat({x, x}), torch::cat({t, t}))), m));
  }
  CHECK_THROWS(condition(main_model.forward(), y, std::nullopt, guide));
}

TEST_CASE("CFG-Zero*, rescale and autoguidance sample alike in the conditional and doubled forms",
          "[transport][guidance]") {
  RandomLabelledModel model(21), weak(22);
  auto z = torch::randn({2, 4, 3, 3}, at::detail::createCPUGenerator(23), torch::kFloat64);
  auto y = torch::tensor({1, 6}, torch::kInt64);
  Sampler sampler{Transport()};
  auto ode = SamplerOptions().ode_method(OdeMethod::Euler).num_steps(9);
  auto options = GuidanceOptions(3.0, 10)
                     .guide_all_channels(true)
                     .cfg_zero_star(true)
                     .zero_init_steps(2)
                     .guidance_rescale(0.5)
                     .cfg_interval({0.1, 0.8});
  for (bool autoguided : {false, true}) {
    INFO("autoguidance " << autoguided);
    LabelledForward guide = autoguided ? weak.forward() : nullptr;
    auto conditioned = condition(model.forward(), y, options, guide);
    auto doubled = sampler.sample_ode(conditioned.initial_state(z), conditioned.model, ode);
    auto conditional = sampler.sample_ode(z, classifier_free_guidance(model.forward(), y, options, guide), ode);
    CHECK(doubled.model_evaluations == conditional.model_evaluations);
    CHECK(torch::allclose(conditioned.samples(doubled.sample), conditional.sample, 1e-10, 1e-12));
    // Zero-init changed the run: the same guidance without it samples elsewhere.
    auto unzeroed = sampler.sample_ode(
        z, classifier_free_guidance(model.forward(), y, GuidanceOptions(options).zero_init_steps(0), guide), ode);
    CHECK_FALSE(torch::allclose(unzeroed.sample, conditional.sample, 1e-6, 1e-6));
  }
}

TEST_CASE("guidance settings: CFG-Zero*, zero-init and rescale checked naming their flags", "[transport][guidance]") {
  using sit::config::ConfigError;
  GuidanceOptions config;
  CHECK(config.zero_init_calls() == 0);
  config.cfg_zero_star(true);
  CHECK(config.zero_init_calls() == 1);  // the paper's zero-init of the first step
  config.zero_init_steps(0);
  CHECK(config.zero_init_calls() == 0);  // the optimised scale alone

  auto refused = [](const GuidanceOptions& c, const std::string& message) {
    INFO(message);
    CHECK_THROWS_AS(c.validate(), ConfigError);
    CHECK_THROWS_WITH(c.validate(), Catch::StartsWith(message));
  };
  GuidanceOptions bad;
  bad.zero_init_steps(-1);
  refused(bad, "zero_init_steps -1: must not be negative");
  bad = {};
  bad.guidance_rescale(1.5);
  refused(bad, "guidance_rescale 1.5: must be in [0, 1]");
  bad = {};
  bad.cfg_scale(1);
  bad.cfg_zero_star(true);
  refused(bad, "cfg_zero_star: needs guidance, which cfg_scale 1 turns off");
  bad = {};
  bad.cfg_scale(1);
  bad.guidance_rescale(0.5);
  refused(bad, "guidance_rescale 0.5: needs guidance");

  // Zero-init is a zero velocity: other predictions are refused, naming the flag that asked for it.
  GuidanceOptions star;
  star.cfg_zero_star(true);
  CHECK_NOTHROW(star.validate_for(ModelType::Velocity));
  CHECK_THROWS_WITH(star.validate_for(ModelType::Noise),
                    Catch::StartsWith("cfg_zero_star: zero-init returns a zero velocity, but this model predicts noise"));
  star.zero_init_steps(3);
  CHECK_THROWS_WITH(star.validate_for(ModelType::Score), Catch::StartsWith("zero_init_steps 3: zero-init"));
  star.zero_init_steps(0);
  CHECK_NOTHROW(star.validate_for(ModelType::Noise));  // the optimised scale alone
}
