#pragma once
// ProcessGroup: this process's place among the ranks of a data-parallel run, and the collectives
// they use, on LibTorch's c10d (Gloo for CPU tensors, NCCL for CUDA ones) with a TCPStore
// rendezvous — what train.py's dist.init_process_group("nccl") sets up under torchrun.

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sit::distributed {

/// Where a rank finds the others: torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
/// MASTER_ADDR, MASTER_PORT).
struct LaunchEnvironment {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;  // the rank's index on its machine: its CUDA device
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
};

/// The launch environment when WORLD_SIZE is set, std::nullopt when it is not (a single process).
/// Throws a one-line error naming the variable that is missing or malformed.
std::optional<LaunchEnvironment> launch_environment_from_env();

/// Whether this build of sit has c10d process groups (CMake's SIT_DISTRIBUTED).
bool distributed_available();

/// The backend for a device: "gloo" for CPU, "nccl" for CUDA.
std::string backend_for(const torch::Device& device);

struct ProcessGroupOptions {
  LaunchEnvironment environment;
  /// Device of the tensors the collectives see: CPU selects Gloo, CUDA NCCL.
  torch::Device device = torch::kCPU;
  /// How long the rendezvous and every collective wait for the other ranks before failing: a rank
  /// that died or hangs ends the others with an error instead of a hang.
  std::chrono::seconds timeout{1800};
};

class ProcessGroup {
 public:
  /// Joins the group: rank 0 serves the TCPStore at master_addr:master_port, every rank connects
  /// to it and waits (up to the timeout) for all world_size ranks.
  explicit ProcessGroup(const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const { return rank_; }
  int64_t world_size() const { return world_size_; }
  const std::string& backend() const { return backend_; }

  /// Sums each tensor over the ranks, in place. One collective per tensor, all in flight together;
  /// returns when all are done.
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors);
  /// Overwrites each tensor with root's, in place (one collective per tensor, as above).
  void broadcast(const std::vector<torch::Tensor>& tensors, int64_t root = 0);
  /// Every rank's `tensor` (equal shapes on all ranks), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor);
  /// Returns when every rank has called it.
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
  std::string backend_;
};

}  // namespace sit::distributed
