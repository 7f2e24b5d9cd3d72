#include "common.h"

#include <fmt/core.h>

#include <thread>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sit::examples {

void add_runtime_options(CLI::App& app, RuntimeParams& params) {
  app.add_option("--threads", params.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--device", params.device, "cpu, cuda or cuda:N");
}

torch::Device apply_runtime(const RuntimeParams& params) {
#if defined(__GLIBC__)
  // glibc hands every freed block above its mmap threshold (a step's activations) back to the
  // system and maps fresh pages at the next step, paying a page fault per 4 KiB. Keeping blocks up
  // to 32 MiB in the heap, and the heap untrimmed below 1 GiB, took SiT-S/2's CPU forward (batch
  // 8, 2 threads) from about 1,550 ms to 1,050 ms here.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  int threads = params.threads > 0 ? params.threads
                                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  torch::Device device(params.device);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw std::runtime_error("--device " + params.device +
                             ": CUDA is not available in this build of LibTorch or on this machine");
  }
  return device;
}

void add_distributed_options(CLI::App& app, DistributedParams& params) {
  app.add_option("--dist-timeout", params.timeout_seconds,
                 "seconds a rank waits for the others before failing (torchrun launches)")
      ->check(CLI::PositiveNumber);
}

std::shared_ptr<distributed::ProcessGroup> join_process_group(const DistributedParams& params,
                                                              torch::Device& device) {
  auto launch = distributed::launch_environment_from_env();
  if (!launch || launch->world_size == 1) return nullptr;
  if (!distributed::distributed_available()) {
    throw std::runtime_error("WORLD_SIZE=" + std::to_string(launch->world_size) +
                             ", but this build of sit has no distributed support (configure it "
                             "with LibTorch's c10d and the gloo headers, libgloo-dev)");
  }
  if (device.is_cuda()) device = torch::Device(torch::kCUDA, static_cast<int8_t>(launch->local_rank));
  distributed::ProcessGroupOptions options;
  options.environment = *launch;
  options.device = device;
  options.timeout = std::chrono::seconds(params.timeout_seconds);
  return std::make_shared<distributed::ProcessGroup>(options);
}

namespace {
// c10::Error's what() carries a C++ stack trace on a second line; users get the message alone.
std::string first_line(const std::string& message) {
  return message.substr(0, message.find('\n'));
}
}  // namespace

int run_main(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    fmt::print(stderr, "{}: error: {}\n", program, first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: error: {}\n", program, first_line(e.what()));
  }
  return 1;
}

}  // namespace sit::examples
