#pragma once
// A test case that cannot run on this machine (no GPU, no Gloo, no python3-torch, no Fashion-MNIST
// package, no prlimit) says so with SIT_SKIP(reason) and leaves: the reason goes to stdout and the
// program exits with kSkipExitCode instead of 0 when nothing failed (tests/main.cpp), which ctest
// reports as skipped (SKIP_RETURN_CODE, tests/CMakeLists.txt), never as passed. ctest runs one case
// per process, so a skip is that case's. Call it before the case's checks: a case that skips
// after a failed check still fails.

#include <iostream>
#include <sstream>
#include <string>

namespace sit::test {

constexpr int kSkipExitCode = 77;

inline bool& skip_reported() {
  static bool reported = false;
  return reported;
}

inline void report_skip(const std::string& reason) {
  skip_reported() = true;
  std::cout << "skipped: " << reason << std::endl;
}

}  // namespace sit::test

// SIT_SKIP("no CUDA device") or SIT_SKIP(root << " is not installed"): reports and returns.
#define SIT_SKIP(reason)                        \
  do {                                          \
    std::ostringstream sit_skip_reason_;        \
    sit_skip_reason_ << reason;                 \
    ::sit::test::report_skip(sit_skip_reason_.str()); \
    return;                                     \
  } while (false)
