// Classifier-free guidance on a labelled stand-in model: the guided channels, the interval (and
// times past the ends of [0, 1]), one forward per call, the conditional and doubled (official)
// forms giving the same samples, and an adaptive solver's steps over the doubled state.
#include "catch_torch.h"
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
      forward, y, GuidanceOptions(4.0, 10).guided_channels(GuidedChannels::All))(x, t);
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
  auto guided = classifier_free_guidance(forward, y, GuidanceOptions(4.0, 10).t_lo(0.2).t_hi(0.6));
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
  auto ode = OdeSamplerOptions().sampling_method(OdeMethod::Heun2).num_steps(8);
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
      classifier_free_guidance_doubled(forward, y, GuidanceOptions(4.0, 10).t_lo(0.2));
  CHECK_FALSE(torch::equal(reaches_end(zz, late).narrow(0, 0, 2), unguided));
  auto stops_short =
      classifier_free_guidance_doubled(forward, y, GuidanceOptions(4.0, 10).t_lo(0.2).t_hi(0.6));
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
  auto ode = OdeSamplerOptions().sampling_method(OdeMethod::Dopri5).num_steps(10);
  for (auto channels : {GuidedChannels::FirstThree, GuidedChannels::All}) {
    GuidanceOptions options = GuidanceOptions(4.0, 10).guided_channels(channels);
    auto doubled = sampler.sample_ode(torch::cat({z, z}),
                                      classifier_free_guidance_doubled(forward, y, options), ode);
    auto conditional = sampler.sample_ode(z, classifier_free_guidance(forward, y, options), ode);
    INFO("doubled " << doubled.model_evaluations << " calls, conditional "
                    << conditional.model_evaluations);
    if (channels == GuidedChannels::All) {
      CHECK(doubled.model_evaluations == conditional.model_evaluations);
      CHECK(torch::allclose(doubled.sample.narrow(0, 0, 2), conditional.sample, 1e-6, 1e-6));
    } else {
      CHECK(doubled.model_evaluations > 2 * conditional.model_evaluations);
      // The first halves agree: z + 0.1 t in channels 0-2, z in channel 3.
      CHECK(torch::allclose(doubled.sample.narrow(0, 0, 2), conditional.sample, 1e-5, 1e-5));
    }
  }
}
