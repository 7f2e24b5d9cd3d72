// Epoch permutations and rank shards (DistributedSampler), per-example generators, and the
// threaded DataLoader's determinism, resume and error delivery.

#include <algorithm>
#include <set>
#include <stdexcept>


#include "support/catch_torch.h"
#include <sit/data/data_loader.h>
#include <sit/data/sampler.h>

namespace {

using sit::data::Batch;
using sit::data::DataLoader;
using sit::data::DataLoaderOptions;
using sit::data::SamplerOptions;

// Example i is a (1, 2, 2) image: channel 0 holds i and a uniform draw from the example's
// generator, so a batch shows both which examples it holds and which generators drew them.
class CountingDataset : public sit::data::Dataset {
 public:
  explicit CountingDataset(size_t size, int64_t failing_index = -1)
      : size_(size), failing_index_(failing_index) {}
  size_t size() const override { return size_; }
  sit::data::Example get(size_t index, std::mt19937_64& rng) const override {
    if (static_cast<int64_t>(index) == failing_index_) {
      throw std::runtime_error("cannot read example " + std::to_string(index));
    }
    const float draw = std::uniform_real_distribution<float>(0, 1)(rng);
    const torch::Tensor x = torch::tensor({static_cast<float>(index), draw, 0.0f, 0.0f});
    return {x.reshape({1, 2, 2}), static_cast<int64_t>(index % 10)};
  }
  int64_t num_classes() const override { return 10; }
  std::array<int64_t, 3> shape() const override { return {1, 2, 2}; }

 private:
  size_t size_;
  int64_t failing_index_;
};

std::vector<int64_t> indices_of(const Batch& batch) {
  const torch::Tensor column = batch.x.select(1, 0).select(1, 0).select(1, 0).to(torch::kLong);
  return std::vector<int64_t>(column.data_ptr<int64_t>(),
                              column.data_ptr<int64_t>() + column.numel());
}

std::vector<Batch> take(DataLoader& loader, int count) {
  std::vector<Batch> batches;
  for (int i = 0; i < count; ++i) batches.push_back(loader.next());
  return batches;
}

void check_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].epoch == b[i].epoch);
    CHECK(a[i].step == b[i].step);
    CHECK(torch::equal(a[i].x, b[i].x));
    CHECK(torch::equal(a[i].y, b[i].y));
  }
}

}  // namespace

TEST_CASE("epoch_indices equals torch's DistributedSampler", "[data][sampler]") {
  // From PyTorch 1.13: DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=True, seed=7)
  // after set_epoch(3); torch.randperm(10, generator seeded 10) is 7 4 6 1 3 5 9 8 2 0.
  const auto options = SamplerOptions().seed(7).world_size(3);
  CHECK(sit::data::epoch_indices(10, 3, SamplerOptions(options).rank(0)) ==
        std::vector<int64_t>{7, 1, 9, 0});
  CHECK(sit::data::epoch_indices(10, 3, SamplerOptions(options).rank(1)) ==
        std::vector<int64_t>{4, 3, 8, 7});
  CHECK(sit::data::epoch_indices(10, 3, SamplerOptions(options).rank(2)) ==
        std::vector<int64_t>{6, 5, 2, 4});
  CHECK(sit::data::epoch_indices(10, 0, SamplerOptions().shuffle(false).world_size(4).rank(3)) ==
        std::vector<int64_t>{3, 7, 1});
}

TEST_CASE("rank shards are disjoint and cover the dataset", "[data][sampler]") {
  for (const int64_t size : {12, 13, 97}) {
    for (const int64_t world_size : {1, 2, 3, 5}) {
      std::vector<int64_t> all;
      for (int64_t rank = 0; rank < world_size; ++rank) {
        const auto shard = sit::data::epoch_indices(
            size, 4, SamplerOptions().seed(1).rank(rank).world_size(world_size));
        CHECK(static_cast<int64_t>(shard.size()) == (size + world_size - 1) / world_size);
        all.insert(all.end(), shard.begin(), shard.end());
      }
      const std::set<int64_t> distinct(all.begin(), all.end());
      INFO("size " << size << " world_size " << world_size);
      CHECK(static_cast<int64_t>(distinct.size()) == size);  // covering
      CHECK(*distinct.begin() == 0);
      CHECK(*distinct.rbegin() == size - 1);
      // Only the wrap-around padding repeats indices.
      CHECK(static_cast<int64_t>(all.size()) - size == (world_size - size % world_size) % world_size);
    }
  }
  CHECK(sit::data::epoch_indices(50, 0, SamplerOptions()) !=
        sit::data::epoch_indices(50, 1, SamplerOptions()));
}

TEST_CASE("example_rng depends on seed, epoch and index only", "[data][sampler]") {
  CHECK(sit::data::example_rng(1, 2, 3)() == sit::data::example_rng(1, 2, 3)());
  CHECK(sit::data::example_rng(1, 2, 3)() != sit::data::example_rng(1, 2, 4)());
  CHECK(sit::data::example_rng(1, 2, 3)() != sit::data::example_rng(1, 3, 3)());
  CHECK(sit::data::example_rng(1, 2, 3)() != sit::data::example_rng(2, 2, 3)());
}

TEST_CASE("DataLoader batches follow the epoch permutation", "[data][loader]") {
  auto dataset = std::make_shared<CountingDataset>(23);
  const auto options = DataLoaderOptions().batch_size(5).seed(3).num_workers(2);
  DataLoader loader(dataset, options);
  REQUIRE(loader.steps_per_epoch() == 4);  // drop_last: 23 -> 4 batches of 5
  const auto epoch0 = sit::data::epoch_indices(23, 0, SamplerOptions().seed(3));
  const auto epoch1 = sit::data::epoch_indices(23, 1, SamplerOptions().seed(3));
  const std::vector<Batch> batches = take(loader, 6);
  for (int i = 0; i < 6; ++i) {
    const auto& order = i < 4 ? epoch0 : epoch1;
    const int64_t step = i % 4;
    CHECK(batches[i].epoch == i / 4);
    CHECK(batches[i].step == step);
    CHECK(batches[i].x.sizes() == torch::IntArrayRef({5, 1, 2, 2}));
    CHECK(indices_of(batches[i]) ==
          std::vector<int64_t>(order.begin() + step * 5, order.begin() + step * 5 + 5));
    CHECK(torch::equal(batches[i].y, torch::tensor(indices_of(batches[i])) % 10));
  }
  // Each example's draw comes from example_rng(seed, epoch, index).
  const int64_t first = indices_of(batches[4])[0];
  auto rng = sit::data::example_rng(3, 1, first);
  CHECK(batches[4].x[0][0][0][1].item<float>() == std::uniform_real_distribution<float>(0, 1)(rng));
}

TEST_CASE("DataLoader gives the same stream for any number of workers", "[data][loader]") {
  auto dataset = std::make_shared<CountingDataset>(61);
  const auto options = DataLoaderOptions().batch_size(4).seed(11);
  DataLoader serial(dataset, DataLoaderOptions(options).num_workers(0));
  const std::vector<Batch> expected = take(serial, 40);  // crosses two epoch boundaries
  for (const int64_t workers : {1, 3, 8}) {
    for (const int64_t prefetch : {1, 6}) {
      DataLoader threaded(dataset, DataLoaderOptions(options).num_workers(workers).prefetch(prefetch));
      INFO("workers " << workers << " prefetch " << prefetch);
      check_same(take(threaded, 40), expected);
    }
  }
}

TEST_CASE("DataLoader resumes exactly at (epoch, step)", "[data][loader]") {
  auto dataset = std::make_shared<CountingDataset>(30);
  const auto options = DataLoaderOptions().batch_size(7).seed(5).num_workers(3);
  DataLoader loader(dataset, options);
  const std::vector<Batch> stream = take(loader, 12);  // 4 steps per epoch
  DataLoader resumed(dataset, options);
  resumed.seek(1, 2);
  check_same(take(resumed, 6), std::vector<Batch>(stream.begin() + 6, stream.end()));
  // Seeking a running loader drops what it had prefetched.
  resumed.seek(0, 1);
  check_same(take(resumed, 2), std::vector<Batch>(stream.begin() + 1, stream.begin() + 3));
  CHECK(resumed.make_batch(2, 3).x.equal(stream[11].x));
  CHECK_THROWS_WITH(resumed.seek(0, 4), Catch::Contains("4 steps per epoch"));
}

TEST_CASE("DataLoader shards batches by rank", "[data][loader]") {
  auto dataset = std::make_shared<CountingDataset>(20);
  std::vector<int64_t> seen;
  for (int64_t rank = 0; rank < 3; ++rank) {
    DataLoader loader(dataset, DataLoaderOptions().batch_size(7).seed(2).rank(rank).world_size(3)
                                   .drop_last(false).num_workers(2));
    REQUIRE(loader.steps_per_epoch() == 1);  // ceil(20 / 3) = 7 per rank
    const auto indices = indices_of(loader.next());
    CHECK(indices == sit::data::epoch_indices(
                         20, 0, SamplerOptions().seed(2).rank(rank).world_size(3)));
    seen.insert(seen.end(), indices.begin(), indices.end());
  }
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == 20);
}

TEST_CASE("DataLoader without drop_last ends each epoch with a short batch", "[data][loader]") {
  auto dataset = std::make_shared<CountingDataset>(11);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(4).drop_last(false).num_workers(2));
  CHECK(loader.steps_per_epoch() == 3);
  const auto batches = take(loader, 4);
  CHECK(batches[2].x.size(0) == 3);
  CHECK(batches[3].x.size(0) == 4);
  CHECK(batches[3].epoch == 1);
}

TEST_CASE("DataLoader rethrows a worker's error at the batch it spoiled", "[data][loader]") {
  auto dataset = std::make_shared<CountingDataset>(8, /*failing_index=*/5);
  DataLoader loader(dataset, DataLoaderOptions().batch_size(8).shuffle(false).num_workers(2));
  CHECK_THROWS_WITH(loader.next(), Catch::Contains("cannot read example 5"));
  CHECK_THROWS_WITH(loader.next(), Catch::Contains("cannot read example 5"));
}

TEST_CASE("DataLoader rejects batches larger than a rank's share", "[data][loader]") {
  auto dataset = std::make_shared<CountingDataset>(10);
  CHECK_THROWS_WITH(DataLoader(dataset, DataLoaderOptions().batch_size(6).world_size(2)),
                    Catch::Contains("do not fill one batch"));
}

TEST_CASE("DataLoader shuts down cleanly with batches in flight", "[data][loader]") {
  auto dataset = std::make_shared<CountingDataset>(1000);
  for (int round = 0; round < 5; ++round) {
    DataLoader loader(dataset, DataLoaderOptions().batch_size(10).num_workers(4).prefetch(8));
    loader.next();
  }
  SUCCEED();
}
