#pragma once
// Value: a Python object tree as torch.save pickles it — None, bool, int, float, str, bytes, list,
// tuple, dict (ordered), tensor, and opaque references to classes and their instances.
//
// Lists, dicts and objects are shared on copy, like Python references: the unpickler's memo and
// its stack see one container, and a tree built here can be handed to torch_save without copies.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <torch/types.h>

namespace sit::io {

class Value;
struct Dict;
struct Object;
using List = std::vector<Value>;

class Value {
 public:
  enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Tensor, Global, Object };

  Value() = default;  // None
  static Value boolean(bool value);
  static Value integer(int64_t value);
  static Value floating(double value);
  static Value string(std::string value);
  static Value bytes(std::string value);
  static Value list(List items = {});
  static Value tuple(List items = {});
  /// A plain dict; `ordered` marks a collections.OrderedDict (what state_dict() returns).
  static Value dict(bool ordered = false);
  static Value tensor(torch::Tensor value);
  /// A reference to a class or function by name, as pickle's GLOBAL: `module.name`.
  static Value global(std::string module, std::string name);
  /// An instance of a class the reader does not interpret (argparse.Namespace, numpy scalars...).
  static Value object(std::string module, std::string name, List args = {});

  Kind kind() const { return kind_; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is(Kind kind) const { return kind_ == kind; }

  /// Accessors throw std::runtime_error("expected <kind> but got <kind>") on the wrong kind.
  bool to_bool() const;
  int64_t to_int() const;
  /// A float, or an int widened.
  double to_double() const;
  const std::string& to_string() const;  // String or Bytes
  const torch::Tensor& to_tensor() const;
  List& items() const;  // List or Tuple
  Dict& to_dict() const;
  Object& to_object() const;  // Global or Object

 private:
  void expect(Kind kind) const;

  Kind kind_ = Kind::None;
  std::variant<std::monostate, bool, int64_t, double, std::string, torch::Tensor, std::shared_ptr<List>,
               std::shared_ptr<Dict>, std::shared_ptr<Object>>
      data_;
};

const char* kind_name(Value::Kind kind);

/// Key-value pairs in insertion order; keys are usually strings (state dicts) or ints (optimizer state).
struct Dict {
  bool ordered = false;  // collections.OrderedDict rather than dict
  std::vector<std::pair<Value, Value>> items;

  /// The value under string key `key`, or nullptr.
  const Value* find(const std::string& key) const;
  /// Inserts, or replaces the value of an equal key in place (keys compare as str/int/bool/float).
  void set(Value key, Value value);
  void set(const std::string& key, Value value) { set(Value::string(key), std::move(value)); }
  /// The string keys in order, for error messages.
  std::vector<std::string> string_keys() const;
};

/// `module.name`, and for an instance the call's arguments and its BUILD state (None if none).
struct Object {
  std::string module;
  std::string name;
  List args;
  Value state;

  std::string qualified_name() const { return module + "." + name; }
};

}  // namespace sit::io
