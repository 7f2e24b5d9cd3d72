#pragma once
// The errors sit throws for what an application gives it, each with a one-line message to show as
// it is, told apart by type:
//  - config::ConfigError: a setting out of range, a misspelt choice, settings that contradict each
//    other or a checkpoint (config/error.h);
//  - FileError: a file that cannot be read or written, or whose contents are not what they should
//    be (a truncated archive, a missing key, a wrongly shaped weight); its message starts with the
//    file;
//  - UnsupportedError: a request this build or machine cannot serve (CUDA graphs without CUDA, a
//    kernel a LibTorch version lacks).
// A wrong argument in code (a tensor of the wrong shape passed to a module) stays c10::Error, as
// in LibTorch itself.

#include <stdexcept>
#include <string>

namespace sit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FileError : public Error {
 public:
  /// "<path>: <problem>".
  FileError(const std::string& path, const std::string& problem) : Error(path + ": " + problem), path_(path) {}
  /// The file (or a file's entry, e.g. "ckpt.pt/data.pkl") the problem is in.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class UnsupportedError : public Error {
 public:
  using Error::Error;
};

}  // namespace sit
