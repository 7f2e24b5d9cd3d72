#include "common.h"

#include <sit/runtime/blas_core.h>
#include <sit/runtime/cpu_allocator.h>

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

namespace sit::examples {

bool given(const CLI::App& app, const std::string& key) {
  const std::string name = config::flag(key);
  for (const auto* option : app.get_options()) {
    if (option->check_name(name) && option->count() > 0) return true;
  }
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (given(*sub, key)) return true;
  }
  return false;
}

void add_old_spelling(CLI::App& app, const std::string& old_flag, const std::string& flag) {
  CLI::Option* option = app.get_option(flag);
  app.add_option_function<std::string>(
         old_flag,
         [option, old_flag, flag](const std::string& value) {
           std::fprintf(stderr, "%s is spelt %s now (the old spelling still works)\n", old_flag.c_str(), flag.c_str());
           option->add_result(value);
           option->run_callback();
         },
         "the old spelling of " + flag)
      ->group("");  // hidden from --help
}

void resolve_model(const CLI::App& app, nn::ModelConfig& model) {
  for (const char* key : nn::ModelConfig::free_dimension_keys()) {
    if (!given(app, key)) continue;
    if (given(app, "model") && !model.model.empty()) {
      throw config::ConfigError(config::flag(key) + " is a free dimension, but --model " + model.model +
                                " is a preset; give --model '' to use free dimensions");
    }
    model.model.clear();
  }
}

torch::Device apply_runtime(const nn::RuntimeConfig& runtime) {
  runtime.validate();
  runtime::tune_cpu_allocator();
  int threads = runtime.threads > 0 ? static_cast<int>(runtime.threads)
                                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  torch::Device device(runtime.device);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw std::runtime_error("--device " + runtime.device +
                             ": CUDA is not available in this build of LibTorch or on this machine");
  }
  return device;
}

nn::Precision runnable_precision(const torch::Device& device, nn::Precision precision) {
  if (device.is_cpu() && precision == nn::Precision::BF16 && !nn::cpu_has_bf16_matmul()) {
    fmt::print(stderr, "--precision bf16: this CPU has no bf16 matmul instructions (AVX-512 BF16 or AMX), "
                       "where bf16 runs far slower than fp32; running in fp32\n");
    return nn::Precision::FP32;
  }
  return precision;
}

void add_distributed_options(CLI::App& app, DistributedParams& params) {
  app.add_option("--dist-timeout", params.timeout_seconds,
                 "seconds a rank waits for the others before failing (torchrun launches)")
      ->check(kPositive)
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
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

namespace {
// A number flag's bound: "" when `text` is a number that passes, else what is wrong.
std::string check_number(const std::string& text, bool zero_allowed) {
  double value = 0;
  try {
    size_t end = 0;
    value = std::stod(text, &end);
    if (end != text.size()) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    return "'" + text + "' is not a number";
  }
  if (zero_allowed ? value >= 0 : value > 0) return "";
  return text + (zero_allowed ? ": must not be negative" : ": must be positive");
}
}  // namespace

const CLI::Validator kPositive([](std::string& text) { return check_number(text, false); }, "POSITIVE");
const CLI::Validator kNonNegative([](std::string& text) { return check_number(text, true); }, "NONNEGATIVE");

const CLI::Validator kOutputFile(
    [](std::string& text) -> std::string {
      const std::filesystem::path path(text);
      if (std::filesystem::is_directory(path)) return text + ": is a folder, not a file";
      const auto folder = path.parent_path();
      if (!folder.empty() && !std::filesystem::is_directory(folder)) {
        return text + ": its folder " + folder.string() + " does not exist";
      }
      return "";
    },
    "");

const CLI::Validator kOutputDir(
    [](std::string& text) -> std::string {
      for (auto path = std::filesystem::path(text); !path.empty(); path = path.parent_path()) {
        if (std::filesystem::exists(path) && !std::filesystem::is_directory(path)) {
          return path.string() == text ? text + ": is a file, not a folder"
                                       : text + ": " + path.string() + " is a file, not a folder";
        }
        if (path == path.parent_path()) break;
      }
      return "";
    },
    "");

namespace {

// OpenBLAS reads OPENBLAS_CORETYPE only as it loads, so a program whose OpenBLAS chose generic
// kernels for this CPU runs itself again with the matching core, once; a user's own
// OPENBLAS_CORETYPE is kept, with a line saying what it costs.
void run_with_matching_blas_core(const std::string& program, char** argv) {
  const auto mismatch = runtime::blas_core_mismatch();
  if (!mismatch) return;
  const auto core = runtime::openblas_core_to_run_again_with();
  if (!core) {
    fmt::print(stderr, "{}: {}\n", program, runtime::blas_core_advice());
    return;
  }
  fmt::print(stderr, "{}: OpenBLAS chose its generic {} kernels on this {} CPU; running again with OPENBLAS_CORETYPE={}\n",
             program, mismatch->core, mismatch->instruction_set, *core);
  runtime::run_again_with_openblas_core(*core, argv);
  fmt::print(stderr, "{}: could not run again ({}); going on with the {} kernels\n", program, std::strerror(errno),
             mismatch->core);
}

}  // namespace

int run_main(const std::string& program, CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  run_with_matching_blas_core(program, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    fmt::print(stderr, "{}: error: {}\n", program, message);
    return 1;
  } catch (const config::ConfigError& e) {  // from a flag's parse function
    fmt::print(stderr, "{}: error: {}\n", program, e.flag_message());
    return 1;
  }
  try {
    return body();
  } catch (const config::ConfigError& e) {  // the library names the setting, a program its flag
    fmt::print(stderr, "{}: error: {}\n", program, first_line(e.flag_message()));
  } catch (const c10::Error& e) {
    fmt::print(stderr, "{}: error: {}\n", program, first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: error: {}\n", program, first_line(e.what()));
  }
  return 1;
}

}  // namespace sit::examples
