#pragma once
// The launch check shared by sit's kernels: a failed launch becomes an exception naming the kernel.

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace sit::cuda {

inline void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(kernel) + ": CUDA launch failed: " + cudaGetErrorString(status));
  }
}

}  // namespace sit::cuda
