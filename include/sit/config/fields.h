#pragma once
// The field list of a settings group: every group names each of its settings once, with its key
// (train.py's argparse name: "path_type", written --path-type on a command line), a reference to
// its value, a one-line help and, for a number, the range it must lie in. Serialisation into
// checkpoints, the programs' flags and the range checks are all made from that list, so a
// setting is declared in one place: its default where its value is declared (a TORCH_ARG of the
// library's options), the rest here.
//
//   struct TransportOptions {
//     TORCH_ARG(std::optional<double>, sample_eps) = std::nullopt;
//     template <typename Self, typename Field>
//     static void fields(Self& self, Field&& field) {
//       field("sample_eps", self.sample_eps(), "sampling interval margin", config::half_open(0, 0.5));
//     }
//   };
//
// Self is the group or the const group, so one list serves readers and writers; a reader takes the
// range as an optional fourth argument (auto&&... range). Values are bool, int64_t, uint64_t,
// double, std::string, std::optional<int64_t | double | std::string | enum>, a vector of doubles,
// or an enum with a name table (enum_names.h).

#include <sit/config/enum_names.h>
#include <sit/config/error.h>

#include <limits>
#include <optional>
#include <string>
#include <type_traits>

namespace sit::config {

/// Whether a field's type is a std::optional (a setting that may be unset).
template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

/// The numbers a setting may take: lo..hi, each end open or closed.
struct Range {
  double lo;
  double hi;
  bool lo_open;
  bool hi_open;

  bool contains(double value) const {
    return (lo_open ? value > lo : value >= lo) && (hi_open ? value < hi : value <= hi);
  }
  /// "must be positive", "must not be negative", "must be in [0, 0.5)".
  std::string problem() const;
};

inline constexpr double kInfinity = std::numeric_limits<double>::infinity();
inline constexpr Range positive{0, kInfinity, true, true};
inline constexpr Range non_negative{0, kInfinity, false, true};
constexpr Range closed(double lo, double hi) { return {lo, hi, false, false}; }
constexpr Range half_open(double lo, double hi) { return {lo, hi, false, true}; }
constexpr Range open(double lo, double hi) { return {lo, hi, true, true}; }

/// Throws ConfigError("<setting(key)> <value>: <problem>") for a number (or a set optional number)
/// outside `range`.
void check_range(const char* key, double value, const Range& range);
template <typename T>
void check_range(const char* key, const std::optional<T>& value, const Range& range) {
  if (value) check_range(key, static_cast<double>(*value), range);
}
template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
void check_range(const char* key, T value, const Range& range) {
  check_range(key, static_cast<double>(value), range);
}

/// Checks every setting of a field list (Group::fields, or another list such as a sampler mode's)
/// that declares a range.
template <typename Group, typename Fields>
void check_ranges(const Group& group, Fields fields) {
  fields(group, [](const char* key, const auto& value, const char*, const auto&... range) {
    (check_range(key, value, range), ...);
  });
}
template <typename Group>
void check_ranges(const Group& group) {
  check_ranges(group, [](const Group& g, auto&& field) { Group::fields(g, field); });
}

/// Calls field(key, value, help[, range]) for every setting of the groups, in order.
template <typename Field, typename... Groups>
void for_each_field(Field&& field, Groups&... groups) {
  (std::decay_t<Groups>::fields(groups, field), ...);
}

}  // namespace sit::config
