#pragma once
// Where and how numbers are computed: the device, the matmul precision and the CPU threads.

#include <sit/config/fields.h>
#include <sit/nn/precision.h>

#include <string>

namespace sit::nn {

struct RuntimeConfig {
  std::string device = "cpu";  // cpu, cuda or cuda:N
  Precision precision = Precision::FP32;
  int64_t threads = 0;  // 0: every core

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("device", self.device, "cpu, cuda or cuda:N");
    field("precision", self.precision, "fp32, tf32 (CUDA) or bf16 autocast with fp32 master weights");
    field("threads", self.threads, "CPU threads (0: every core)");
  }

  /// Throws ConfigError for a device string torch does not parse or negative threads.
  void validate() const;
};

}  // namespace sit::nn
