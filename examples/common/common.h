#pragma once
// What every example program shares: thread and device set-up, and errors reported as one line.

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <functional>
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

/// Runs body, printing any exception as "<program>: error: <one line>" and returning 1;
/// CLI11 parse errors keep CLI11's own exit codes and messages.
int run_main(const std::string& program, const std::function<int()>& body);

}  // namespace sit::examples
