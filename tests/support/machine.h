#pragma once
// What some checks need of this machine beyond the build: where it is missing, the case says so
// with SIT_SKIP (support/skip.h).

#include <sit/data/fashion_mnist.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace sit::test {

// Debian's dataset-fashion-mnist, where the library looks for it by default.
inline bool fashion_mnist_installed() {
  return std::filesystem::exists(sit::data::FashionMNISTOptions().root() + "/train-images-idx3-ubyte.gz");
}

// Debian's Python, for checks that Python's zipfile reads our output.
inline bool python_available() {
  static const bool available = std::system("/usr/bin/python3 -c '' >/dev/null 2>&1") == 0;
  return available;
}

// Debian's Python with torch (python3-torch), for checks that Python's torch.load reads our output.
inline bool python_torch_available() {
  static const bool available = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return available;
}

// The CPU flags Linux lists in /proc/cpuinfo, each with a space either side (" avx2 "), or "" where
// there is no such file: what the kernel says the CPU has and it enables.
inline std::string cpu_flags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) return " " + line.substr(line.find(':') + 1) + " ";
  }
  return "";
}

}  // namespace sit::test
