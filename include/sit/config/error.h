#pragma once
// The exception type for bad settings (sit/error.h has the others): a misspelt choice, a value out of range, settings that
// contradict each other or a checkpoint. Its message is one line that names the setting: what()
// by the library's name (`cfg_scale`, the options' field), flag_message() by the programs' flag
// (`--cfg-scale`).

#include <sit/error.h>

#include <string>
#include <vector>

namespace sit::config {

class ConfigError : public Error {
 public:
  /// `message` names each setting by setting(key): "cfg_scale 0: must be positive" in what(),
  /// "--cfg-scale 0: must be positive" in flag_message().
  explicit ConfigError(const std::string& message);
  /// "<context>: <inner's message>", inner's settings still named both ways.
  ConfigError(const std::string& context, const ConfigError& inner);

  /// The message as a program says it, each setting by its command-line flag.
  const std::string& flag_message() const { return flag_message_; }

 private:
  std::string flag_message_;
};

/// A setting named in a ConfigError's message: `key` in what(), flag(key) in flag_message().
std::string setting(const std::string& key);

/// The command-line spelling of a setting: "cfg_scale" -> "--cfg-scale".
std::string flag(const std::string& key);

/// A number as a user wrote it: 0.04, 1e-06, 12.
std::string text(double value);
/// Numbers as a comma-separated flag takes them: "0,1".
std::string text(const std::vector<double>& values);

/// Throws ConfigError("<setting(key)> <value>: <problem>") unless `ok`.
void require(bool ok, const std::string& key, const std::string& value, const std::string& problem);

}  // namespace sit::config
