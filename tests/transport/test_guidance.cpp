// Classifier-free guidance on a labelled stand-in model: the guided channels, the interval, one
// forward per call, and the conditional and doubled (official) forms giving the same samples.
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
