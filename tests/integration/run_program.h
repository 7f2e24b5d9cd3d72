#pragma once
// Runs a program of ours through the shell and keeps what it printed, for the CLI tests.

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "support/files.h"

namespace sit::test {

struct Output {
  int status;        // exit status; -1 when killed by a signal
  std::string text;  // stdout and stderr
};

inline Output run_program(const std::string& command, const TempDir& dir) {
  auto log = dir.file("output.txt");
  int raw = std::system((command + " > " + log + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, text.str()};
}

}  // namespace sit::test
