#pragma once
// The exception type for bad settings (sit/error.h has the others): a misspelt choice, a value out of range, settings that
// contradict each other or a checkpoint. Its message is one line that names the setting.

#include <sit/error.h>

#include <string>
#include <vector>

namespace sit::config {

class ConfigError : public Error {
 public:
  using Error::Error;
};

/// The command-line spelling of a setting: "cfg_scale" -> "--cfg-scale".
std::string flag(const std::string& key);

/// A number as a user wrote it: 0.04, 1e-06, 12.
std::string text(double value);
/// Numbers as a comma-separated flag takes them: "0,1".
std::string text(const std::vector<double>& values);

/// Throws ConfigError("<flag(key)> <value>: <problem>") unless `ok`.
void require(bool ok, const std::string& key, const std::string& value, const std::string& problem);

}  // namespace sit::config
