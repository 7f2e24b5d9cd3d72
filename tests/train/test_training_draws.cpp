// training_draws: each example's draws depend on (seed, epoch, index) alone, lie on its Philox
// stream, and give the training times their distribution.
#include "random/draw_streams.h"
#include "support/catch_torch.h"

#include "train/training_draws.h"
#include <sit/transport/transport.h>

#include <ATen/core/PhiloxRNGEngine.h>

#include <algorithm>
#include <cmath>
#include <functional>

TEST_CASE("training draws do not depend on the batch an example is in", "[train]") {
  auto all = sit::train::training_draws(3, 1, torch::tensor({5, 9, 2, 7}, torch::kLong), {1, 4, 4}, 0.5);
  auto half = sit::train::training_draws(3, 1, torch::tensor({2, 7}, torch::kLong), {1, 4, 4}, 0.5);
  CHECK(torch::equal(all.noise.slice(0, 2), half.noise));
  CHECK(torch::equal(all.t_uniform.slice(0, 2), half.t_uniform));
  CHECK(torch::equal(all.drop.slice(0, 2), half.drop));
  CHECK(all.noise.sizes() == torch::IntArrayRef({4, 1, 4, 4}));
  CHECK(((all.t_uniform >= 0) & (all.t_uniform < 1)).all().item<bool>());

  // Another epoch or seed draws anew; no dropout drops nothing.
  auto next_epoch = sit::train::training_draws(3, 2, torch::tensor({5}, torch::kLong), {1, 4, 4}, 0.5);
  auto other_seed = sit::train::training_draws(4, 1, torch::tensor({5}, torch::kLong), {1, 4, 4}, 0.5);
  CHECK(!torch::equal(next_epoch.noise[0], all.noise[0]));
  CHECK(!torch::equal(other_seed.noise[0], all.noise[0]));
  auto kept = sit::train::training_draws(3, 1, torch::arange(64, torch::kLong), {1, 2, 2}, 0.0);
  CHECK(kept.drop.sum().item<int64_t>() == 0);
  auto dropped = sit::train::training_draws(3, 1, torch::arange(1000, torch::kLong), {1, 2, 2}, 0.1);
  CHECK(dropped.drop.sum().item<int64_t>() > 60);   // ~100 of 1000, binomial sd ~9.5
  CHECK(dropped.drop.sum().item<int64_t>() < 140);
}

namespace training_draws_test {

using sit::random::philox::Block;
using sit::random::philox::philox4x32_10;

bool same(const Block& a, const Block& b) {
  return a.v[0] == b.v[0] && a.v[1] == b.v[1] && a.v[2] == b.v[2] && a.v[3] == b.v[3];
}

TEST_CASE("Philox4x32-10 gives Random123's known answers and ATen's philox_engine stream", "[train]") {
  // Random123's kat_vectors for philox4x32_10: (counter, key) -> output.
  CHECK(same(philox4x32_10(Block{{0, 0, 0, 0}}, 0, 0), Block{{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}));
  CHECK(same(philox4x32_10(Block{{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u),
             Block{{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}));
  CHECK(same(philox4x32_10(Block{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0),
             Block{{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}));
  // ATen's engine (seed, subsequence, offset) walks counter (offset, subsequence) under key seed.
  for (uint64_t key : {uint64_t{0}, uint64_t{0x0123456789abcdefull}}) {
    for (uint64_t stream : {uint64_t{0}, uint64_t{7}, uint64_t{1} << 40}) {
      for (uint64_t block : {uint64_t{0}, uint64_t{3}, sit::random::draw_streams::kTimeBlock}) {
        at::philox_engine engine(key, stream, block);
        const Block expected{{engine(), engine(), engine(), engine()}};
        CHECK(same(sit::random::philox::stream_block(key, stream, block), expected));
      }
    }
  }
}

TEST_CASE("training draws lie on the example's Philox stream and are standard normal", "[train]") {
  const auto index = torch::tensor({11, 0, 4096}, torch::kLong);
  auto draws = sit::train::training_draws(5, 2, index, {1, 3, 3}, 0.1);  // 9 values: a part block
  const uint64_t key = sit::random::draw_streams::key(5, 2);
  for (int64_t i = 0; i < 3; ++i) {
    const auto row = draws.noise[i].flatten();
    for (int64_t j = 0; j < 9; ++j) {
      float values[4];
      sit::random::draw_streams::noise(key, index[i].item<int64_t>(), j / 4, values);
      CHECK(row[j].item<float>() == values[j % 4]);
    }
  }

  // 64,000 normals: moments and tail mass within 4 standard errors of N(0, 1)'s.
  auto z = sit::train::training_draws(1, 0, torch::arange(1000, torch::kLong), {1, 8, 8}, 0.0).noise;
  CHECK(std::abs(z.mean().item<double>()) < 4 * std::sqrt(1.0 / 64000));
  CHECK(std::abs(z.var().item<double>() - 1) < 4 * std::sqrt(2.0 / 64000));
  const double tail = (z.abs() > 1.959964).to(torch::kDouble).mean().item<double>();
  CHECK(std::abs(tail - 0.05) < 4 * std::sqrt(0.05 * 0.95 / 64000));
  CHECK(std::abs((z.pow(4).mean().item<double>()) - 3) < 0.15);  // kurtosis; its standard error is 0.04
}

// The Kolmogorov-Smirnov distance sup |F_n - F| of sorted samples t: (n,) to a CDF.
double ks_distance(const torch::Tensor& t, const std::function<double(double)>& cdf) {
  const auto sorted = std::get<0>(t.to(torch::kFloat64).sort());
  const auto* x = sorted.data_ptr<double>();
  const int64_t n = sorted.numel();
  double distance = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double f = cdf(x[i]);
    distance = std::max({distance, static_cast<double>(i + 1) / n - f, f - static_cast<double>(i) / n});
  }
  return distance;
}

TEST_CASE("drawn logit-normal training times follow the closed-form CDF (Kolmogorov-Smirnov)", "[train]") {
  namespace tr = sit::transport;
  const int64_t n = 20000;
  const auto u = sit::train::training_draws(0, 0, torch::arange(n, torch::kLong), {1, 1, 1}, 0.0).t_uniform;
  // The KS statistic's 0.001 critical value, 1.95 / sqrt(n) = 0.0138: the draws are fixed (seed 0),
  // so this either holds or does not, and for a right distribution it fails once in 1,000 seeds.
  const double bound = 1.95 / std::sqrt(static_cast<double>(n));
  struct Case {
    double mean, scale;
    tr::TransportOptions extra;
  };
  for (const auto& c : {Case{0.0, 1.0, {}}, Case{0.4, 1.0, {}},
                        Case{-0.8, 1.5, tr::TransportOptions().path_type(tr::PathType::VP).train_eps(0.1)}}) {
    tr::Transport transport(
        tr::TransportOptions(c.extra).time_sampling(tr::TimeSampling::LogitNormal).logit_mean(c.mean).logit_std(c.scale));
    const auto [t0, t1] = transport.check_interval();
    // P(t <= x) = Phi((logit(s) - m) / s_) at s = (x - t0) / (t1 - t0): the logit-normal on [t0, t1].
    auto cdf = [&, t0 = t0, t1 = t1](double x) {
      const double s = (x - t0) / (t1 - t0);
      if (s <= 0) return 0.0;
      if (s >= 1) return 1.0;
      return 0.5 * std::erfc(-(std::log(s / (1 - s)) - c.mean) / (c.scale * std::sqrt(2.0)));
    };
    const auto t = transport.training_times(u);
    INFO("logit-normal(" << c.mean << ", " << c.scale << ") on [" << t0 << ", " << t1 << "]");
    CHECK(ks_distance(t, cdf) < bound);
    // The test can tell distributions apart: uniform times on the interval are far from it.
    CHECK(ks_distance(u * (t1 - t0) + t0, cdf) > 5 * bound);
  }
}

}  // namespace training_draws_test

TEST_CASE("MeanFlow's interval draws leave the other draws as they are, and are per example", "[train][meanflow]") {
  const auto index = torch::tensor({5, 9, 2, 7}, torch::kLong);
  auto plain = sit::train::training_draws(3, 1, index, {1, 4, 4}, 0.5);
  auto with = sit::train::training_draws(3, 1, index, {1, 4, 4}, 0.5, torch::kCPU, /*interval=*/true);
  CHECK_FALSE(plain.interval_normals.defined());
  CHECK(torch::equal(plain.noise, with.noise));
  CHECK(torch::equal(plain.t_uniform, with.t_uniform));
  CHECK(torch::equal(plain.drop, with.drop));
  REQUIRE(with.interval_normals.sizes() == torch::IntArrayRef({4, 2}));
  auto half = sit::train::training_draws(3, 1, torch::tensor({2, 7}, torch::kLong), {1, 4, 4}, 0.5, torch::kCPU, true);
  CHECK(torch::equal(with.interval_normals.slice(0, 2), half.interval_normals));
  CHECK(torch::equal(with.interval_uniforms.slice(0, 2), half.interval_uniforms));
  // Standard normals and uniforms over many examples.
  auto many = sit::train::training_draws(3, 1, torch::arange(4000, torch::kLong), {1, 1, 1}, 0.0, torch::kCPU, true);
  CHECK(std::abs(many.interval_normals.mean().item<double>()) < 0.05);  // sd of the mean ~0.011
  CHECK(std::abs(many.interval_normals.std().item<double>() - 1) < 0.05);
  CHECK(std::abs(many.interval_uniforms.mean().item<double>() - 0.5) < 0.02);  // sd ~0.0046
  CHECK(std::abs(torch::corrcoef(many.interval_normals.t())[0][1].item<double>()) < 0.05);
}
