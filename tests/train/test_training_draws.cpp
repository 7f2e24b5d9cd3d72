// training_draws: each example's draws depend on (seed, epoch, index) alone.
#include "catch_torch.h"
#include <sit/train/training_draws.h>

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
