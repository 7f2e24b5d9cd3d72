#pragma once
// One table of names per enum, used to parse, print, list the choices in --help and check them.
//
// An enum E opts in with a constexpr function found by argument-dependent lookup in E's namespace:
//
//   constexpr auto enum_table(PathType) {
//     return config::EnumTable<PathType, 3>{"path type", {{{PathType::Linear, "Linear"}, ...}}};
//   }

#include <sit/config/error.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace sit::config {

template <typename E, size_t N>
struct EnumTable {
  const char* what;  // "path type": names the setting in errors
  std::array<std::pair<E, const char*>, N> entries;
};

/// Every name of E, in the table's order.
template <typename E>
std::vector<std::string> enum_names() {
  std::vector<std::string> names;
  for (const auto& entry : enum_table(E{}).entries) names.emplace_back(entry.second);
  return names;
}

/// "a, b or c".
std::string choice_list(const std::vector<std::string>& names);

/// The value named `name`; anything else is a ConfigError naming the choices.
template <typename E>
E parse_enum(const std::string& name) {
  const auto table = enum_table(E{});
  for (const auto& entry : table.entries) {
    if (name == entry.second) return entry.first;
  }
  throw ConfigError(std::string(table.what) + " '" + name + "': expected " + choice_list(enum_names<E>()));
}

template <typename E>
std::string enum_name(E value) {
  for (const auto& entry : enum_table(E{}).entries) {
    if (entry.first == value) return entry.second;
  }
  throw ConfigError(std::string(enum_table(E{}).what) + ": value " +
                    std::to_string(static_cast<long long>(value)) + " has no name");
}

}  // namespace sit::config
