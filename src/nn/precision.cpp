#include <sit/nn/precision.h>
#include <sit/runtime/cpu_features.h>

#include <ATen/autocast_mode.h>
#include <ATen/Context.h>

#include <stdexcept>

// LibTorch 2.4 made autocast's switches per device type; 1.x and early 2.x have one per backend.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define SIT_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace sit::nn {

void set_matmul_precision(Precision precision) {
  bool tf32 = precision != Precision::FP32;
  at::globalContext().setAllowTF32CuBLAS(tf32);
  at::globalContext().setAllowTF32CuDNN(tf32);
}

bool cpu_has_bf16_matmul() {
#if defined(__x86_64__) || defined(__i386__)
  const auto features = runtime::cpu_features();
  return features.avx512_bf16 || features.amx_bf16;
#else
  return true;  // elsewhere (ARM's BF16 and SVE): trust LibTorch's kernels
#endif
}

namespace {

bool autocast_enabled(torch::DeviceType type) {
#ifdef SIT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == torch::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

at::ScalarType autocast_dtype(torch::DeviceType type) {
#ifdef SIT_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(type);
#else
  return type == torch::kCPU ? at::autocast::get_autocast_cpu_dtype()
                             : at::autocast::get_autocast_gpu_dtype();
#endif
}

void set_autocast(torch::DeviceType type, bool enabled, at::ScalarType dtype) {
#ifdef SIT_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type, enabled);
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == torch::kCPU) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

}  // namespace

AutocastGuard::AutocastGuard(const torch::Device& device, Precision precision)
    : active_(precision == Precision::BF16), device_type_(device.type()) {
  if (!active_) return;
  if (device_type_ != torch::kCPU && device_type_ != torch::kCUDA) {
    throw std::invalid_argument("bf16 autocast supports cpu and cuda devices, not " + device.str());
  }
  previous_enabled_ = autocast_enabled(device_type_);
  previous_dtype_ = autocast_dtype(device_type_);
  set_autocast(device_type_, true, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(device_type_, previous_enabled_, previous_dtype_);
}

}  // namespace sit::nn
