#pragma once
// What every example program shares: thread and device set-up, and errors reported as one line.

#include <sit/distributed/process_group.h>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

namespace sit::examples {

/// Adds --threads (default: every core; LibTorch itself starts with one here) and --device.
struct RuntimeParams {
  int threads = 0;  // 0: all cores
  std::string device = "cpu";
};
void add_runtime_options(CLI::App& app, RuntimeParams& params);

/// Applies --threads and returns the torch::Device of --device ("cpu", "cuda", "cuda:1");
/// throws a clear error when CUDA is asked for and not available.
torch::Device apply_runtime(const RuntimeParams& params);

/// Adds --dist-timeout: how long a rank of a torchrun launch waits for the others.
struct DistributedParams {
  int64_t timeout_seconds = 1800;  // torch.distributed's default
};
void add_distributed_options(CLI::App& app, DistributedParams& params);

/// This process's rank of a data-parallel run when launched by torchrun (or with its environment:
/// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT and WORLD_SIZE > 1), else null. A CUDA
/// `device` becomes cuda:LOCAL_RANK, each rank on its own GPU; CPU ranks use Gloo, CUDA ranks NCCL.
std::shared_ptr<distributed::ProcessGroup> join_process_group(const DistributedParams& params,
                                                              torch::Device& device);

/// Runs body, printing any exception as "<program>: error: <one line>" and returning 1;
/// CLI11 parse errors keep CLI11's own exit codes and messages.
int run_main(const std::string& program, const std::function<int()>& body);

}  // namespace sit::examples
