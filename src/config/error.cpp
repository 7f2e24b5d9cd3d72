#include <sit/config/enum_names.h>
#include <sit/config/error.h>
#include <sit/config/fields.h>

#include <algorithm>
#include <sstream>

namespace sit::config {

namespace {

// setting(key) marks a key in a message between these two control characters, which no message
// holds otherwise.
constexpr char kSettingStart = '\x1e';
constexpr char kSettingEnd = '\x1f';

// The message with every marked key replaced by name(key).
template <typename Name>
std::string render(const std::string& message, Name name) {
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t start = message.find(kSettingStart, at);
    const size_t end = start == std::string::npos ? start : message.find(kSettingEnd, start);
    if (end == std::string::npos) return out + message.substr(at);
    out += message.substr(at, start - at) + name(message.substr(start + 1, end - start - 1));
    at = end + 1;
  }
}

}  // namespace

ConfigError::ConfigError(const std::string& message)
    : Error(render(message, [](const std::string& key) { return key; })),
      flag_message_(render(message, flag)) {}

ConfigError::ConfigError(const std::string& context, const ConfigError& inner)
    : Error(render(context, [](const std::string& key) { return key; }) + ": " + inner.what()),
      flag_message_(render(context, flag) + ": " + inner.flag_message()) {}

std::string setting(const std::string& key) { return kSettingStart + key + kSettingEnd; }

std::string flag(const std::string& key) {
  std::string name = "--" + key;
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

std::string text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string text(const std::vector<double>& values) {
  std::string list;
  for (double value : values) list += (list.empty() ? "" : ",") + text(value);
  return list;
}

void require(bool ok, const std::string& key, const std::string& value, const std::string& problem) {
  if (!ok) throw ConfigError(setting(key) + (value.empty() ? "" : " " + value) + ": " + problem);
}

std::string Range::problem() const {
  if (hi == kInfinity && hi_open) {
    if (lo == 0) return lo_open ? "must be positive" : "must not be negative";
    return std::string("must be ") + (lo_open ? "above " : "at least ") + text(lo);
  }
  return "must be in " + std::string(lo_open ? "(" : "[") + text(lo) + ", " + text(hi) + (hi_open ? ")" : "]");
}

void check_range(const char* key, double value, const Range& range) {
  require(range.contains(value), key, text(value), range.problem());
}

std::string choice_list(const std::vector<std::string>& names) {
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) list += i + 1 == names.size() ? " or " : ", ";
    list += names[i];
  }
  return list;
}

}  // namespace sit::config
