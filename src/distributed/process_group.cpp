#include <sit/distributed/process_group.h>

#include <torch/version.h>

#include <cstdlib>
#include <stdexcept>

#if SIT_WITH_C10D
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if SIT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace sit::distributed {
namespace {

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int64_t env_integer(const char* name) {
  auto value = env(name);
  if (!value) {
    throw std::runtime_error(std::string("WORLD_SIZE is set but ") + name +
                             " is not (launch with torchrun, or set RANK, WORLD_SIZE, LOCAL_RANK, "
                             "MASTER_ADDR and MASTER_PORT)");
  }
  try {
    size_t used = 0;
    int64_t number = std::stoll(*value, &used);
    if (used == value->size()) return number;
  } catch (const std::exception&) {
  }
  throw std::runtime_error(std::string(name) + "=" + *value + " is not an integer");
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::optional<LaunchEnvironment> launch_environment_from_env() {
  if (!env("WORLD_SIZE")) return std::nullopt;
  LaunchEnvironment e;
  e.world_size = env_integer("WORLD_SIZE");
  e.rank = env_integer("RANK");
  e.local_rank = env_integer("LOCAL_RANK");
  e.master_port = env_integer("MASTER_PORT");
  auto addr = env("MASTER_ADDR");
  if (!addr) throw std::runtime_error("WORLD_SIZE is set but MASTER_ADDR is not");
  e.master_addr = *addr;
  if (e.world_size < 1 || e.rank < 0 || e.rank >= e.world_size || e.local_rank < 0) {
    throw std::runtime_error("expected 0 <= RANK < WORLD_SIZE and LOCAL_RANK >= 0, but got RANK=" +
                             std::to_string(e.rank) + " WORLD_SIZE=" + std::to_string(e.world_size) +
                             " LOCAL_RANK=" + std::to_string(e.local_rank));
  }
  if (e.master_port < 1 || e.master_port > 65535) {
    throw std::runtime_error("MASTER_PORT=" + std::to_string(e.master_port) + " is not a TCP port");
  }
  return e;
}

bool distributed_available() { return SIT_WITH_C10D != 0; }

std::string backend_for(const torch::Device& device) { return device.is_cuda() ? "nccl" : "gloo"; }

#if SIT_WITH_C10D

// LibTorch 2.x moved the collectives from ProcessGroup to Backend, which ProcessGroupGloo and
// ProcessGroupNCCL now derive from; their signatures are unchanged.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> group;
  std::chrono::seconds timeout;
  int64_t rank;

  // Waits for every collective; a failure (a rank died, or one did not answer within the
  // timeout) becomes one line naming this rank and the collective.
  void wait(const std::vector<c10::intrusive_ptr<c10d::Work>>& works, const char* what) const {
    for (const auto& work : works) {
      try {
        work->wait();
      } catch (const std::exception& e) {
        throw std::runtime_error("rank " + std::to_string(rank) + ": " + what +
                                 " failed (did a rank exit, or not answer within " +
                                 std::to_string(timeout.count()) + " s?): " + first_line(e.what()));
      }
    }
  }
};

namespace {

// The Gloo transport: on one machine (a loopback master) the loopback interface; otherwise
// GLOO_SOCKET_IFNAME when set, else the interface of this host's name, as torch.distributed.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0) {
    return c10d::ProcessGroupGloo::createDeviceForHostname(master_addr);
  }
  if (auto interface = env("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(*interface);
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// The Gloo group for a CPU device, the NCCL group for a CUDA one.
c10::intrusive_ptr<Collectives> make_group(const ProcessGroupOptions& options,
                                           const c10::intrusive_ptr<c10d::Store>& store,
                                           std::chrono::milliseconds timeout) {
  const auto& e = options.environment;
#if SIT_WITH_NCCL
  if (options.device.is_cuda()) {
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(e.rank),
                                                       static_cast<int>(e.world_size), nccl_options);
  }
#endif
  auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
  gloo_options->devices.push_back(gloo_device(e.master_addr));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(e.rank),
                                                     static_cast<int>(e.world_size), gloo_options);
}

}  // namespace

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options)
    : impl_(std::make_unique<Impl>()),
      rank_(options.environment.rank),
      world_size_(options.environment.world_size),
      backend_(backend_for(options.device)) {
  const auto& e = options.environment;
  if (options.device.is_cuda() && !SIT_WITH_NCCL) {
    throw std::runtime_error("this build of sit has no NCCL process group (CUDA device " +
                             options.device.str() + "); use --device cpu for Gloo");
  }
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(e.master_port);
  store_options.isServer = e.rank == 0;
  store_options.numWorkers = static_cast<std::size_t>(e.world_size);
  store_options.waitWorkers = true;
  store_options.timeout = timeout;
  impl_->timeout = options.timeout;
  impl_->rank = e.rank;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(e.master_addr, store_options);
    impl_->group = make_group(options, impl_->store, timeout);
  } catch (const std::exception& error) {
    throw std::runtime_error("rank " + std::to_string(e.rank) + ": joining the process group at " +
                             e.master_addr + ":" + std::to_string(e.master_port) +
                             " failed (did a rank exit, or not answer within " +
                             std::to_string(options.timeout.count()) + " s?): " +
                             first_line(error.what()));
  }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::all_reduce_sum(const std::vector<torch::Tensor>& tensors) {
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (const auto& tensor : tensors) {
    std::vector<at::Tensor> one{tensor};  // a list of several would be reduced as device replicas
    works.push_back(impl_->group->allreduce(one));
  }
  impl_->wait(works, "all-reduce");
}

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, int64_t root) {
  c10d::BroadcastOptions options;
  options.rootRank = root;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (const auto& tensor : tensors) {
    std::vector<at::Tensor> one{tensor};
    works.push_back(impl_->group->broadcast(one, options));
  }
  impl_->wait(works, "broadcast");
}

std::vector<torch::Tensor> ProcessGroup::all_gather(const torch::Tensor& tensor) {
  // The backend's threads write the outputs outside the caller's InferenceMode, which an
  // inference tensor would refuse: they are made as normal tensors.
  c10::InferenceMode normal_tensors(false);
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int64_t r = 0; r < world_size_; ++r) outputs[0].push_back(torch::empty_like(tensor));
  std::vector<at::Tensor> inputs{tensor.contiguous()};
  impl_->wait({impl_->group->allgather(outputs, inputs)}, "all-gather");
  return outputs[0];
}

void ProcessGroup::barrier() { impl_->wait({impl_->group->barrier()}, "barrier"); }

#else  // !SIT_WITH_C10D

struct ProcessGroup::Impl {};

ProcessGroup::ProcessGroup(const ProcessGroupOptions&) {
  throw std::runtime_error(
      "this build of sit has no distributed support (c10d or gloo headers were missing at "
      "configure time; see SIT_DISTRIBUTED); run a single process or rebuild with libgloo-dev");
}
ProcessGroup::~ProcessGroup() = default;
void ProcessGroup::all_reduce_sum(const std::vector<torch::Tensor>&) {}
void ProcessGroup::broadcast(const std::vector<torch::Tensor>&, int64_t) {}
std::vector<torch::Tensor> ProcessGroup::all_gather(const torch::Tensor& tensor) { return {tensor}; }
void ProcessGroup::barrier() {}

#endif

}  // namespace sit::distributed
