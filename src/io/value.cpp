#include <sit/io/value.h>

#include <stdexcept>

namespace sit::io {

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::Bytes: return "bytes";
    case Value::Kind::List: return "list";
    case Value::Kind::Tuple: return "tuple";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Tensor: return "tensor";
    case Value::Kind::Global: return "global";
    case Value::Kind::Object: return "object";
  }
  return "?";
}

Value Value::boolean(bool value) {
  Value v;
  v.kind_ = Kind::Bool;
  v.data_ = value;
  return v;
}

Value Value::integer(int64_t value) {
  Value v;
  v.kind_ = Kind::Int;
  v.data_ = value;
  return v;
}

Value Value::floating(double value) {
  Value v;
  v.kind_ = Kind::Float;
  v.data_ = value;
  return v;
}

Value Value::string(std::string value) {
  Value v;
  v.kind_ = Kind::String;
  v.data_ = std::move(value);
  return v;
}

Value Value::bytes(std::string value) {
  Value v = string(std::move(value));
  v.kind_ = Kind::Bytes;
  return v;
}

Value Value::list(List items) {
  Value v;
  v.kind_ = Kind::List;
  v.data_ = std::make_shared<List>(std::move(items));
  return v;
}

Value Value::tuple(List items) {
  Value v = list(std::move(items));
  v.kind_ = Kind::Tuple;
  return v;
}

Value Value::dict(bool ordered) {
  Value v;
  v.kind_ = Kind::Dict;
  auto dict = std::make_shared<Dict>();
  dict->ordered = ordered;
  v.data_ = std::move(dict);
  return v;
}

Value Value::tensor(torch::Tensor value) {
  Value v;
  v.kind_ = Kind::Tensor;
  v.data_ = std::move(value);
  return v;
}

Value Value::global(std::string module, std::string name) {
  Value v = object(std::move(module), std::move(name));
  v.kind_ = Kind::Global;
  return v;
}

Value Value::object(std::string module, std::string name, List args) {
  Value v;
  v.kind_ = Kind::Object;
  v.data_ = std::make_shared<Object>(Object{std::move(module), std::move(name), std::move(args), Value()});
  return v;
}

void Value::expect(Kind kind) const {
  if (kind_ != kind) throw std::runtime_error(std::string("expected ") + kind_name(kind) + " but got " + kind_name(kind_));
}

bool Value::to_bool() const {
  expect(Kind::Bool);
  return std::get<bool>(data_);
}

int64_t Value::to_int() const {
  expect(Kind::Int);
  return std::get<int64_t>(data_);
}

double Value::to_double() const {
  if (kind_ == Kind::Int) return static_cast<double>(std::get<int64_t>(data_));
  expect(Kind::Float);
  return std::get<double>(data_);
}

const std::string& Value::to_string() const {
  if (kind_ != Kind::Bytes) expect(Kind::String);
  return std::get<std::string>(data_);
}

const torch::Tensor& Value::to_tensor() const {
  expect(Kind::Tensor);
  return std::get<torch::Tensor>(data_);
}

List& Value::items() const {
  if (kind_ != Kind::Tuple) expect(Kind::List);
  return *std::get<std::shared_ptr<List>>(data_);
}

Dict& Value::to_dict() const {
  expect(Kind::Dict);
  return *std::get<std::shared_ptr<Dict>>(data_);
}

Object& Value::to_object() const {
  if (kind_ != Kind::Global) expect(Kind::Object);
  return *std::get<std::shared_ptr<Object>>(data_);
}

namespace {

// Python's == for the key types pickles use; containers and objects never compare equal here.
bool same_key(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::None: return true;
    case Value::Kind::Bool: return a.to_bool() == b.to_bool();
    case Value::Kind::Int: return a.to_int() == b.to_int();
    case Value::Kind::Float: return a.to_double() == b.to_double();
    case Value::Kind::String:
    case Value::Kind::Bytes: return a.to_string() == b.to_string();
    default: return false;
  }
}

}  // namespace

const Value* Dict::find(const std::string& key) const {
  for (const auto& item : items) {
    if (item.first.is(Value::Kind::String) && item.first.to_string() == key) return &item.second;
  }
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& item : items) {
    if (same_key(item.first, key)) {
      item.second = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

std::vector<std::string> Dict::string_keys() const {
  std::vector<std::string> keys;
  for (const auto& item : items) {
    if (item.first.is(Value::Kind::String)) keys.push_back(item.first.to_string());
  }
  return keys;
}

}  // namespace sit::io
