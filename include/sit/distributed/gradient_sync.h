#pragma once
// What keeps data-parallel replicas equal, as torch's DistributedDataParallel: the same start
// (rank 0's parameters and buffers broadcast to every rank) and the same update (gradients
// averaged over the ranks after every backward, in buckets of about 25 MB).

#include <sit/distributed/process_group.h>

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace sit::distributed {

/// Overwrites every parameter and buffer of `module` with root's, bucket by bucket.
void broadcast_module(torch::nn::Module& module, ProcessGroup& group, int64_t root = 0);

/// The parameters that need gradients, grouped in order into buckets of one dtype and device and
/// at most bucket_cap_bytes each (a larger parameter gets a bucket of its own).
class GradientBuckets {
 public:
  static constexpr int64_t kDefaultBucketCapBytes = 25 * 1024 * 1024;  // DDP's bucket_cap_mb=25

  GradientBuckets(const std::vector<torch::Tensor>& parameters, std::shared_ptr<ProcessGroup> group,
                  int64_t bucket_cap_bytes = kDefaultBucketCapBytes);

  /// Replaces each gradient by its mean over the ranks: per bucket, flatten the gradients into one
  /// tensor, all-reduce (all buckets in flight together), divide by world_size, copy back. A
  /// parameter without a gradient on this rank counts as a zero gradient and gets the mean.
  void average_gradients();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  std::vector<std::vector<torch::Tensor>> buckets_;
  std::shared_ptr<ProcessGroup> group_;
};

}  // namespace sit::distributed
