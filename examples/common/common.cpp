#include "common.h"

#include <fmt/core.h>

#include <thread>

namespace sit::examples {

void add_runtime_options(CLI::App& app, RuntimeParams& params) {
  app.add_option("--threads", params.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--device", params.device, "cpu, cuda or cuda:N");
}

torch::Device apply_runtime(const RuntimeParams& params) {
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
