#pragma once
// What every example program shares: the settings groups bound to flags (each flag declared once,
// from the group's field list), thread and device set-up, and errors reported as one line.

#include <sit/config/fields.h>
#include <sit/distributed/process_group.h>
#include <sit/nn/model_config.h>
#include <sit/nn/runtime_config.h>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace sit::examples {

namespace detail {

// One setting as a flag: enums check their name table's choices; a bool that defaults to false
// is a flag (--reverse), one that defaults to true takes a value (--learn-sigma false); vectors
// take lo,hi.
template <typename T>
void add_flag(CLI::App& app, const std::string& name, T& value, const std::string& help) {
  CLI::Option* option;
  if constexpr (std::is_enum_v<T>) {
    option = app.add_option_function<std::string>(
                    name, [&value](const std::string& text) { value = config::parse_enum<T>(text); }, help)
                 ->check(CLI::IsMember(config::enum_names<T>()))
                 ->default_str(config::enum_name(value));
  } else if constexpr (std::is_same_v<T, bool>) {
    option = value ? app.add_option(name, value, help + " (true or false)")->default_str("true")
                   : app.add_flag(name, value, help);
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    option = app.add_option(name, value, help)->delimiter(',')->capture_default_str();
  } else if constexpr (config::is_optional<T>::value) {
    option = app.add_option(name, value, help);
  } else {
    option = app.add_option(name, value, help)->capture_default_str();
  }
  option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

}  // namespace detail

/// A setting's value as a command line spells it (for messages).
template <typename T>
std::string field_text(const T& value) {
  if constexpr (std::is_enum_v<T>) {
    return config::enum_name(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "'" + value + "'";
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    return config::text(value);
  } else if constexpr (config::is_optional<T>::value) {
    return value ? field_text(*value) : "(unset)";
  } else if constexpr (std::is_floating_point_v<T>) {
    return config::text(value);
  } else {
    return std::to_string(value);
  }
}

/// Binds each setting of a group's field list (Group::fields, or another list such as
/// SamplerOptions::ode_fields) to its flag, --key-with-dashes, skipping the keys in `except`.
template <typename Group, typename Fields>
void bind_fields(CLI::App& app, Group& group, Fields fields, const std::set<std::string>& except = {}) {
  fields(group, [&](const char* key, auto& value, const char* help, const auto&...) {
    if (except.count(key) == 0) detail::add_flag(app, config::flag(key), value, help);
  });
}

template <typename Group>
void bind(CLI::App& app, Group& group, const std::set<std::string>& except = {}) {
  bind_fields(app, group, [](auto& g, auto&& field) { Group::fields(g, field); }, except);
}

/// A hidden flag `old_flag` that sets `flag` (already added) as if given, with a line on stderr
/// saying the new spelling: an old spelling kept working.
void add_old_spelling(CLI::App& app, const std::string& old_flag, const std::string& flag);

/// Whether the command line gave the flag of `key` (searching subcommands too).
bool given(const CLI::App& app, const std::string& key);

/// Free-dimension flags select the free model: given without --model they set it to ''; given
/// with a preset they contradict it (a ConfigError).
void resolve_model(const CLI::App& app, nn::ModelConfig& model);

/// Applies --threads and returns the torch::Device of --device; throws a clear error when CUDA is
/// asked for and not available.
torch::Device apply_runtime(const nn::RuntimeConfig& runtime);

/// The precision the programs run --precision at on `device`: bf16 on a CPU without bf16 matmul
/// instructions falls back to fp32, with one line on stderr saying so.
nn::Precision runnable_precision(const torch::Device& device, nn::Precision precision);

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

/// Flag checks that fail as our other errors do, one line naming the flag and the value.
extern const CLI::Validator kPositive;     // a number > 0
extern const CLI::Validator kNonNegative;  // a number >= 0
extern const CLI::Validator kOutputFile;   // a file to write: not a folder, and its folder exists
extern const CLI::Validator kOutputDir;    // a folder to write into: not an existing file

/// Runs the program again with OPENBLAS_CORETYPE set when OpenBLAS chose generic kernels for this
/// CPU (sit/runtime/blas_core.h), then parses the command line and runs body. --help prints the
/// help and returns 0; a flag the parser rejects, or any exception from body, is printed as
/// "<program>: error: <one line>" and returns 1.
int run_main(const std::string& program, CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace sit::examples
