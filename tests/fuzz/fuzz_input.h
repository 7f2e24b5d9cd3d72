#pragma once
// What the harnesses share: the fuzz input as a file for the readers that take a path, and the
// rule that a reader's std::exception (c10::Error included) is a clean refusal, not a finding.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace sit::fuzz {

// A per-process scratch path under the temporary directory: <tmp>/sit_fuzz_<pid>_<name>.
inline std::string scratch_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("sit_fuzz_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Writes `size` bytes to `path`, replacing what was there.
inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

// Runs `read`; a std::exception it throws is the reader refusing bad input, which is fine.
// Anything else (a crash, a sanitizer report, another exception type) ends the run.
template <typename Read>
void expect_clean(Read read) {
  try {
    read();
  } catch (const std::exception&) {
  }
}

}  // namespace sit::fuzz
