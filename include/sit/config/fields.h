#pragma once
// The field list of a settings group: every group names each of its settings once, with its key
// (train.py's argparse name: "path_type", written --path-type on a command line), a reference to
// its value and a one-line help. Serialisation into checkpoints and the programs' flags are both
// made from that list, so a setting is declared in one place.
//
//   struct TransportConfig {
//     PathType path_type = PathType::Linear;
//     template <typename Self, typename Field>
//     static void fields(Self& self, Field&& field) {
//       field("path_type", self.path_type, "interpolant path");
//     }
//   };
//
// Self is the group or the const group, so one list serves readers and writers. Values are
// bool, int64_t, uint64_t, double, std::string, std::optional<int64_t | double>, a vector of
// doubles, or an enum with a name table (enum_names.h).

#include <sit/config/enum_names.h>
#include <sit/config/error.h>

#include <optional>
#include <type_traits>

namespace sit::config {

/// Whether a field's type is a std::optional (a setting that may be unset).
template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

/// Calls field(key, value, help) for every setting of the groups, in order.
template <typename Field, typename... Groups>
void for_each_field(Field&& field, Groups&... groups) {
  (std::decay_t<Groups>::fields(groups, field), ...);
}

}  // namespace sit::config
