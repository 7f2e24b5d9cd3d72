#pragma once
// Our programs run as a user runs them: to the end, keeping what they printed; or in the
// background, in an environment of our choosing (a rank's launch variables), to be signalled,
// polled and waited for with a deadline.

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/files.h"

namespace sit::test {

struct Output {
  int status;        // exit status; 128 + the signal when killed by one
  std::string text;  // stdout and stderr
};

// A waitpid status as a shell reports it: the exit status, or 128 + the signal that killed it.
inline int exit_status(int raw) { return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw); }

// Changes to this process's environment for a started program: a name with a value is set, a
// name without one is removed.
using Environment = std::map<std::string, std::optional<std::string>>;

namespace detail {

// /bin/sh -c `script`. Everything the child needs is built before the fork: the test program has
// threads, and in the child of a process with threads only execve is safe (no allocation).
inline pid_t spawn_shell(const std::string& script, const Environment& changes) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    if (changes.count(entry.substr(0, entry.find('='))) == 0) env.push_back(entry);
  }
  for (const auto& [name, value] : changes) {
    if (value) env.push_back(name + "=" + *value);
  }
  std::vector<std::string> argv{"/bin/sh", "-c", script};
  std::vector<char*> c_argv, c_env;
  for (auto& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  for (auto& entry : env) c_env.push_back(entry.data());
  c_env.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execve(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  return pid;
}

}  // namespace detail

// `command` (a shell command line) run to its end; its stdout and stderr pass through
// dir/output.txt.
inline Output run_program(const std::string& command, const TempDir& dir) {
  const auto log = dir.file("output.txt");
  const pid_t pid = detail::spawn_shell(command + " > " + log + " 2>&1", {});
  int raw = 0;
  while (waitpid(pid, &raw, 0) == -1 && errno == EINTR) {
  }
  return {exit_status(raw), read_text(log)};
}

// `command` (one program and its arguments) in the background, with stdout and stderr to `log`.
// The shell execs it, so the pid is the program's own: a signal sent to it reaches the program.
inline pid_t start_program(const std::string& command, const std::string& log, const Environment& changes = {}) {
  return detail::spawn_shell("exec " + command + " > " + log + " 2>&1", changes);
}

// Whether `pid` has exited (it is then reaped); its exit status goes to `status`.
inline bool exited(pid_t pid, int& status) {
  int raw = 0;
  if (waitpid(pid, &raw, WNOHANG) != pid) return false;
  status = exit_status(raw);
  return true;
}

// The exit status of `pid`, or -1 when it still runs after `seconds` (it is then killed).
inline int wait_exit(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = -1;
  while (!exited(pid, status)) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

}  // namespace sit::test
