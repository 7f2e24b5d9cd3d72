// LatentShards: the shard layout, posterior sampling and the checks made at open.


#include "support/catch_torch.h"
#include "support/files.h"
#include <sit/data/latent_shards.h>
#include <sit/io/npy.h>

namespace {

using sit::data::LatentShards;
using sit::data::LatentShardsOptions;
using sit::test::TempDir;

// Shard s holds n latents (n, channels, 2, 2) whose every value is 100 s + row, labels row % 3.
void write_shard(const TempDir& dir, const std::string& prefix, const std::string& id, int64_t n,
                 int64_t channels, double base) {
  const torch::Tensor rows = torch::arange(n, torch::kFloat).reshape({n, 1, 1, 1});
  sit::io::write_npy(dir.file(prefix + id + ".npy"),
                     (rows + base).expand({n, channels, 2, 2}).contiguous());
  sit::io::write_npy(dir.file("labels_" + id + ".npy"), torch::arange(n, torch::kLong) % 3);
}

}  // namespace

TEST_CASE("LatentShards concatenates shards in file-name order", "[data][latent_shards]") {
  TempDir dir;
  write_shard(dir, "latents_", "00001", 2, 4, 100);
  write_shard(dir, "latents_", "00000", 3, 4, 0);
  const LatentShards shards(LatentShardsOptions(dir.path().string()).num_classes(3));
  CHECK_FALSE(shards.has_posteriors());
  CHECK(shards.num_shards() == 2);
  REQUIRE(shards.size() == 5);
  CHECK(shards.shape() == std::array<int64_t, 3>{4, 2, 2});
  CHECK(shards.num_classes() == 3);
  std::mt19937_64 rng(0);
  const sit::data::Example third = shards.get(2, rng);
  CHECK(third.x.sizes() == torch::IntArrayRef({4, 2, 2}));
  CHECK(torch::equal(third.x, torch::full({4, 2, 2}, 2.0f)));
  CHECK(third.y == 2);
  const sit::data::Example fourth = shards.get(3, rng);
  CHECK(torch::equal(fourth.x, torch::full({4, 2, 2}, 100.0f)));
  CHECK(fourth.y == 0);
}

TEST_CASE("LatentShards draws mean + std * eps from posteriors", "[data][latent_shards]") {
  TempDir dir;
  const int64_t n = 2, channels = 4;
  const torch::Tensor mean = torch::randn({n, channels, 8, 8});
  const torch::Tensor stddev = torch::rand({n, channels, 8, 8}) + 0.5;
  sit::io::write_npy(dir.file("posteriors_0.npy"), torch::cat({mean, stddev}, 1));
  sit::io::write_npy(dir.file("labels_0.npy"), torch::tensor({5, 7}, torch::kLong));
  const LatentShards shards(LatentShardsOptions(dir.path().string()));
  CHECK(shards.has_posteriors());
  CHECK(shards.shape() == std::array<int64_t, 3>{4, 8, 8});

  std::mt19937_64 rng(1), same(1), other(2);
  const torch::Tensor x = shards.get(1, rng).x;
  CHECK(torch::equal(x, shards.get(1, same).x));
  CHECK_FALSE(torch::equal(x, shards.get(1, other).x));
  const torch::Tensor eps = (x - mean[1]) / stddev[1];
  CHECK(std::abs(eps.mean().item<double>()) < 0.25);
  CHECK(eps.std().item<double>() == Approx(1.0).margin(0.2));

  const LatentShards means(LatentShardsOptions(dir.path().string()).sample_posterior(false));
  CHECK(torch::equal(means.get(1, rng).x, mean[1]));
  CHECK(means.get(1, rng).y == 7);
}

TEST_CASE("LatentShards checks the shards at open", "[data][latent_shards]") {
  const auto open = [](const TempDir& dir, int64_t num_classes = 1000) {
    LatentShards(LatentShardsOptions(dir.path().string()).num_classes(num_classes));
  };
  {
    TempDir dir;
    CHECK_THROWS_WITH(open(dir), Catch::Contains("no latents_*.npy"));
  }
  {
    TempDir dir;
    write_shard(dir, "latents_", "00000", 3, 4, 0);
    sit::io::write_npy(dir.file("labels_00000.npy"), torch::arange(2, torch::kLong));
    CHECK_THROWS_WITH(open(dir), Catch::Contains("labels_00000.npy") &&
                                     Catch::Contains("2 labels") && Catch::Contains("3 latents"));
  }
  {
    TempDir dir;
    write_shard(dir, "latents_", "00000", 3, 4, 0);
    write_shard(dir, "latents_", "00001", 3, 8, 0);
    CHECK_THROWS_WITH(open(dir), Catch::Contains("latents_00001.npy") && Catch::Contains("[8, 2, 2]"));
  }
  {
    TempDir dir;
    write_shard(dir, "latents_", "00000", 3, 4, 0);
    CHECK_THROWS_WITH(open(dir, 2), Catch::Contains("labels in [0, 2]"));
  }
  {
    TempDir dir;
    write_shard(dir, "latents_", "00000", 3, 4, 0);
    std::filesystem::remove(dir.file("labels_00000.npy"));
    CHECK_THROWS_WITH(open(dir), Catch::Contains("no labels file") &&
                                     Catch::Contains("labels_00000.npy"));
  }
  {
    TempDir dir;
    write_shard(dir, "latents_", "00000", 3, 4, 0);
    write_shard(dir, "posteriors_", "00001", 3, 8, 0);
    CHECK_THROWS_WITH(open(dir), Catch::Contains("mixes"));
  }
  {
    TempDir dir;
    write_shard(dir, "posteriors_", "00000", 3, 3, 0);
    CHECK_THROWS_WITH(open(dir), Catch::Contains("3 channels"));
  }
  {
    TempDir dir;
    sit::io::write_npy(dir.file("latents_0.npy"), torch::zeros({2, 4, 2}));
    sit::io::write_npy(dir.file("labels_0.npy"), torch::zeros({2}, torch::kLong));
    CHECK_THROWS_WITH(open(dir), Catch::Contains("(n, C, H, W)"));
  }
}
