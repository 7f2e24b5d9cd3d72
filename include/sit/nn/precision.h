#pragma once
// Numeric precision of the model's matmuls: fp32, TF32 tensor cores (CUDA, fp32 storage), or
// bf16 autocast (fp32 weights as master copies, matmuls and attention in bf16), as the official
// train.py's `torch.backends.cuda.matmul.allow_tf32` and `torch.autocast` switches.

#include <sit/config/enum_names.h>
#include <torch/types.h>

#include <string>

namespace sit::nn {

enum class Precision { FP32, TF32, BF16 };

constexpr auto enum_table(Precision) {
  return config::EnumTable<Precision, 3>{"precision", {{{Precision::FP32, "fp32"}, {Precision::TF32, "tf32"}, {Precision::BF16, "bf16"}}}};
}

/// Allows TF32 in cuBLAS and cuDNN for TF32 (and BF16, whose fp32 remainder then runs in TF32),
/// forbids it for FP32. Process-wide, as in PyTorch.
void set_matmul_precision(Precision precision);

/// Whether this CPU has bf16 matmul instructions and the OS enables them (x86: AVX-512 BF16 or
/// AMX-BF16). Without them LibTorch's CPU bf16 matmuls are emulated: a SiT-S/2 training step took
/// about 100x as long as in fp32 on an AVX2-only AMD EPYC.
bool cpu_has_bf16_matmul();

/// bf16 autocast on `device` for the guard's lifetime when precision is BF16; otherwise nothing.
/// Leaving it drops autocast's cache of bf16 weight copies, which would otherwise keep the
/// weights of the step it was made in.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, Precision precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool previous_enabled_ = false;
  torch::DeviceType device_type_ = torch::kCPU;
  at::ScalarType previous_dtype_ = at::kFloat;
};

}  // namespace sit::nn
