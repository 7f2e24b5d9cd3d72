#pragma once
// Batches for training, assembled ahead of time by worker threads, as torch's
// DataLoader(sampler=DistributedSampler(...), drop_last=True) in the official train.py.

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/arg.h>

#include <sit/data/dataset.h>
#include <sit/data/sampler.h>

namespace sit::data {

struct DataLoaderOptions {
  // Examples per batch on this process (train.py: global_batch_size / world_size).
  TORCH_ARG(int64_t, batch_size) = 256;
  // Seed of the epoch permutations and of every example's augmentation.
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(bool, shuffle) = true;
  // Drop each epoch's last, incomplete batch.
  TORCH_ARG(bool, drop_last) = true;
  // Threads assembling batches; 0 assembles each batch in next() itself.
  TORCH_ARG(int64_t, num_workers) = 4;
  // Batches that may be ready or in progress ahead of the consumer (at least num_workers).
  TORCH_ARG(int64_t, prefetch) = 4;
  // This process's shard of each epoch (see epoch_indices).
  TORCH_ARG(int64_t, rank) = 0;
  TORCH_ARG(int64_t, world_size) = 1;
  // Batches in page-locked host memory, for non-blocking copies to a CUDA device.
  TORCH_ARG(bool, pin_memory) = false;
};

struct Batch {
  torch::Tensor x;  // (B, C, H, W) float32
  torch::Tensor y;  // (B,) int64
  torch::Tensor index;  // (B,) int64: each example's index in the dataset
  int64_t epoch = 0;
  int64_t step = 0;  // index of the batch within its epoch
};

// An endless stream of batches: epoch 0 steps 0 .. steps_per_epoch() - 1, then epoch 1, ...
// Batch (epoch, step) holds, in order, examples epoch_indices(epoch)[step * B, (step + 1) * B),
// each drawn with example_rng(seed, epoch, index): it depends on nothing but the options, the
// dataset and (epoch, step), so the stream is the same for any num_workers, and seek() resumes it
// exactly. An exception thrown while making a batch is rethrown by the next() that would have
// returned it. Workers start at the first next() and stop, joined, at destruction or seek().
class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  const Dataset& dataset() const { return *dataset_; }

  // Makes (epoch, step) the next batch, e.g. to resume from a checkpoint taken after
  // epoch * steps_per_epoch() + step batches.
  void seek(int64_t epoch, int64_t step);

  Batch next();

  // Assembles batch (epoch, step) in the calling thread: what next() returns for it.
  Batch make_batch(int64_t epoch, int64_t step) const;

 private:
  // A made batch, or the exception that stopped it.
  struct Made {
    Batch batch;
    std::exception_ptr error;
  };

  std::shared_ptr<const std::vector<int64_t>> indices_of_epoch(int64_t epoch) const;
  void start_workers();
  void stop_workers();
  void work();

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  int64_t examples_per_rank_ = 0;
  int64_t steps_per_epoch_ = 0;

  // Recent epochs' shards of the permutation, shared by the workers.
  mutable std::mutex epochs_mutex_;
  mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> epochs_;

  // Batches are numbered epoch * steps_per_epoch + step; workers claim them in order.
  std::mutex mutex_;
  std::condition_variable may_claim_;  // next_claim_ fell within the prefetch window, or stopping_
  std::condition_variable made_;       // a batch entered made_batches_
  int64_t next_claim_ = 0;
  int64_t next_consume_ = 0;
  bool stopping_ = false;
  std::map<int64_t, Made> made_batches_;
  std::vector<std::thread> workers_;
};

}  // namespace sit::data
