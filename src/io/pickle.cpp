#include "io/pickle.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <unordered_map>

#include "io/byte_reader.h"

namespace sit::io {
namespace {

// Opcodes, named as in Python's pickletools.
enum Opcode : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2',
  BININT = 'J', BININT1 = 'K', BININT2 = 'M', NONE = 'N', BINPERSID = 'Q', REDUCE = 'R',
  BINSTRING = 'T', SHORT_BINSTRING = 'U', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c',
  DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', BINGET = 'h', LONG_BINGET = 'j', LIST = 'l',
  EMPTY_LIST = ']', BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')',
  SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, TUPLE1 = 0x85, TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88,
  NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
  BINBYTES = 'B', SHORT_BINBYTES = 'C',                                    // protocol 3
  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, NEWOBJ_EX = 0x92,
  STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,                       // protocol 4
  BYTEARRAY8 = 0x96,                                                       // protocol 5
};

constexpr uint8_t kHighestProtocol = 5;

// Containers nest at most this deep (a state dict needs 3 or 4 levels); deeper or cyclic trees are
// refused, which also bounds the recursion of destroying a tree.
constexpr size_t kMaxNesting = 1000;

// The classes and functions a pickle may name (GLOBAL, STACK_GLOBAL): the callables torch.save
// emits and interpreted here, the storage types, and the classes of training checkpoints' "args"
// kept as opaque objects. Any other name is refused before anything is built from it.
const char* const kAllowedGlobals[] = {
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage",
    "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
    "torch.ByteStorage", "torch.BoolStorage", "torch.UntypedStorage",
    "argparse.Namespace",       // train.py's args
    "numpy.core.multiarray.scalar", "numpy.dtype",  // numpy scalars among the args
    "_codecs.encode",           // how protocol 2 spells bytes
};

bool is_global(const Value& value, const char* module, const char* name) {
  return value.is(Value::Kind::Global) && value.to_object().module == module && value.to_object().name == name;
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const std::string& source, const PersistentLoad& persistent_load)
      : in_(data, size, source), persistent_load_(persistent_load) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  // Empties every container built unless run() succeeded: a malformed pickle may have linked them
  // into a cycle (APPEND of a memoised list to itself), which reference counting never frees.
  ~Unpickler() {
    if (succeeded_) return;
    for (Value& container : containers_) clear(container);
  }

  Value run() {
    for (;;) {
      opcode_position_ = in_.position();
      const uint8_t opcode = in_.u8("pickle opcode (no STOP)");
      if (opcode == STOP) {
        Value result = pop();
        check_nesting();
        succeeded_ = true;
        return result;
      }
      if (!(scalar(opcode) || container(opcode) || memo(opcode) || object(opcode) || framing(opcode))) {
        fail("unsupported pickle opcode 0x" + hex(opcode));
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    in_.fail(problem + " at byte " + std::to_string(opcode_position_));
  }
  static std::string hex(uint8_t byte) {
    const char digits[] = "0123456789abcdef";
    return {digits[byte >> 4], digits[byte & 15]};
  }

  void push(Value value) { stack_.push_back(std::move(value)); }
  // Pushes a new list, tuple, dict or object, remembered for the cleanup of a failed run.
  void push_container(Value value) {
    containers_.push_back(value);
    push(std::move(value));
  }
  static void clear(Value& container);
  void check_nesting() const;
  Value global(std::string module, std::string name) const;
  Value pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("pickle stack underflow");
    Value value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }
  Value& top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("pickle stack underflow");
    return stack_.back();
  }
  // The items pushed since the last MARK, which is removed.
  List pop_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    List items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back())),
               std::make_move_iterator(stack_.end()));
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }

  bool scalar(uint8_t opcode);
  bool container(uint8_t opcode);
  bool memo(uint8_t opcode);
  bool object(uint8_t opcode);
  bool framing(uint8_t opcode);

  std::string line(const char* what);
  int64_t little_endian_integer(uint64_t size);
  double big_endian_double();
  void set_items(Value& target, List items);
  Value call(const Value& callable, List args);
  Value rebuild_tensor(const List& args);
  void build(Value state);
  std::vector<int64_t> int_tuple(const Value& value, const char* what);

  detail::ByteReader in_;
  const PersistentLoad& persistent_load_;
  size_t opcode_position_ = 0;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<Value> containers_;  // every container built, for ~Unpickler
  bool succeeded_ = false;
};

void Unpickler::clear(Value& container) {
  switch (container.kind()) {
    case Value::Kind::List:
    case Value::Kind::Tuple: container.items().clear(); break;
    case Value::Kind::Dict: container.to_dict().items.clear(); break;
    case Value::Kind::Object:
      container.to_object().args.clear();
      container.to_object().state = Value();
      break;
    default: break;
  }
}

// The containers directly inside `value`.
void for_each_child(const Value& value, const std::function<void(const Value&)>& visit) {
  switch (value.kind()) {
    case Value::Kind::List:
    case Value::Kind::Tuple:
      for (const Value& item : value.items()) visit(item);
      break;
    case Value::Kind::Dict:
      for (const auto& item : value.to_dict().items) {
        visit(item.first);
        visit(item.second);
      }
      break;
    case Value::Kind::Object:
      for (const Value& item : value.to_object().args) visit(item);
      visit(value.to_object().state);
      break;
    default: break;
  }
}

const void* identity(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::List:
    case Value::Kind::Tuple: return &value.items();
    case Value::Kind::Dict: return &value.to_dict();
    case Value::Kind::Object: return &value.to_object();
    default: return nullptr;
  }
}

// Every container built, walked depth-first without recursion: a container met again on the path
// it starts is a cycle; the height of each (1 + its tallest child's) is kept, so one shared
// through the memo is walked once.
void Unpickler::check_nesting() const {
  struct Frame {
    const Value* value;
    std::vector<const Value*> children;
    size_t next = 0;
    size_t height = 1;
  };
  std::unordered_map<const void*, size_t> heights;  // 0 while on the path
  std::vector<Frame> path;
  const auto enter = [&](const Value& value) -> size_t {
    const void* id = identity(value);
    if (id == nullptr) return 0;
    const auto found = heights.find(id);
    if (found != heights.end()) {
      if (found->second == 0) fail("pickle holds a container that contains itself");
      return found->second;
    }
    if (path.size() == kMaxNesting) fail("pickle nests containers deeper than " + std::to_string(kMaxNesting));
    heights.emplace(id, 0);
    Frame frame{&value, {}};
    for_each_child(value, [&](const Value& child) { frame.children.push_back(&child); });
    path.push_back(std::move(frame));
    return 0;
  };
  for (const Value& container : containers_) {
    enter(container);
    while (!path.empty()) {
      if (path.back().next < path.back().children.size()) {
        const Value* child = path.back().children[path.back().next++];
        const size_t height = enter(*child);  // 0: pushed, its height comes when it finishes
        path.back().height = std::max(path.back().height, height + 1);
        continue;
      }
      const Frame finished = std::move(path.back());
      path.pop_back();
      if (finished.height > kMaxNesting) fail("pickle nests containers deeper than " + std::to_string(kMaxNesting));
      heights[identity(*finished.value)] = finished.height;
      if (!path.empty()) path.back().height = std::max(path.back().height, finished.height + 1);
    }
  }
}

Value Unpickler::global(std::string module, std::string name) const {
  const std::string qualified = module + "." + name;
  for (const char* allowed : kAllowedGlobals) {
    if (qualified == allowed) return Value::global(std::move(module), std::move(name));
  }
  fail("pickle references " + qualified.substr(0, 200) + ", which is not on the allow-list of classes");
}

bool Unpickler::scalar(uint8_t opcode) {
  switch (opcode) {
    case NONE: push(Value()); return true;
    case NEWTRUE: push(Value::boolean(true)); return true;
    case NEWFALSE: push(Value::boolean(false)); return true;
    case BININT: push(Value::integer(static_cast<int32_t>(in_.u32("BININT")))); return true;
    case BININT1: push(Value::integer(in_.u8("BININT1"))); return true;
    case BININT2: push(Value::integer(in_.u16("BININT2"))); return true;
    case LONG1: push(Value::integer(little_endian_integer(in_.u8("LONG1 size")))); return true;
    case LONG4: push(Value::integer(little_endian_integer(in_.u32("LONG4 size")))); return true;
    case BINFLOAT: push(Value::floating(big_endian_double())); return true;
    case SHORT_BINUNICODE: push(Value::string(in_.string(in_.u8("string size"), "string"))); return true;
    case BINUNICODE: push(Value::string(in_.string(in_.u32("string size"), "string"))); return true;
    case BINUNICODE8: push(Value::string(in_.string(in_.u64("string size"), "string"))); return true;
    // Python 2 str, from checkpoints pickled by Python 2: kept as text.
    case SHORT_BINSTRING: push(Value::string(in_.string(in_.u8("string size"), "string"))); return true;
    case BINSTRING: {
      const auto size = static_cast<int32_t>(in_.u32("string size"));
      if (size < 0) fail("negative BINSTRING size");
      push(Value::string(in_.string(static_cast<uint64_t>(size), "string")));
      return true;
    }
    case SHORT_BINBYTES: push(Value::bytes(in_.string(in_.u8("bytes size"), "bytes"))); return true;
    case BINBYTES: push(Value::bytes(in_.string(in_.u32("bytes size"), "bytes"))); return true;
    case BINBYTES8:
    case BYTEARRAY8: push(Value::bytes(in_.string(in_.u64("bytes size"), "bytes"))); return true;
    default: return false;
  }
}

bool Unpickler::container(uint8_t opcode) {
  switch (opcode) {
    case MARK: marks_.push_back(stack_.size()); return true;
    case EMPTY_LIST: push_container(Value::list()); return true;
    case EMPTY_TUPLE: push_container(Value::tuple()); return true;
    case EMPTY_DICT: push_container(Value::dict()); return true;
    case LIST: push_container(Value::list(pop_mark())); return true;
    case TUPLE: push_container(Value::tuple(pop_mark())); return true;
    case TUPLE1:
    case TUPLE2:
    case TUPLE3: {
      List items(opcode - TUPLE1 + 1);
      for (auto item = items.rbegin(); item != items.rend(); ++item) *item = pop();
      push_container(Value::tuple(std::move(items)));
      return true;
    }
    case APPEND: {
      Value item = pop();
      Value& list = top();
      if (list.is(Value::Kind::List)) list.items().push_back(std::move(item));
      else if (!list.is(Value::Kind::Object)) fail(std::string("APPEND to a ") + kind_name(list.kind()));
      return true;
    }
    case APPENDS: {
      List items = pop_mark();
      Value& list = top();
      if (list.is(Value::Kind::List)) {
        for (Value& item : items) list.items().push_back(std::move(item));
      } else if (!list.is(Value::Kind::Object)) {
        fail(std::string("APPENDS to a ") + kind_name(list.kind()));
      }
      return true;
    }
    case DICT: {
      Value dict = Value::dict();
      set_items(dict, pop_mark());
      push_container(std::move(dict));
      return true;
    }
    case SETITEM: {
      Value value = pop();
      Value key = pop();
      set_items(top(), List{std::move(key), std::move(value)});
      return true;
    }
    case SETITEMS: {
      List items = pop_mark();
      set_items(top(), std::move(items));
      return true;
    }
    case POP: pop(); return true;
    case POP_MARK: pop_mark(); return true;
    case DUP: push(top()); return true;
    default: return false;
  }
}

bool Unpickler::memo(uint8_t opcode) {
  switch (opcode) {
    case BINPUT: memo_[in_.u8("BINPUT index")] = top(); return true;
    case LONG_BINPUT: memo_[in_.u32("LONG_BINPUT index")] = top(); return true;
    case MEMOIZE: memo_[memo_.size()] = top(); return true;
    case BINGET:
    case LONG_BINGET: {
      const uint64_t index = opcode == BINGET ? in_.u8("BINGET index") : in_.u32("LONG_BINGET index");
      const auto found = memo_.find(index);
      if (found == memo_.end()) fail("pickle memo has no entry " + std::to_string(index));
      push(found->second);
      return true;
    }
    default: return false;
  }
}

bool Unpickler::object(uint8_t opcode) {
  switch (opcode) {
    case GLOBAL: {
      std::string module = line("GLOBAL module");
      std::string name = line("GLOBAL name");
      push(global(std::move(module), std::move(name)));
      return true;
    }
    case STACK_GLOBAL: {
      const Value name = pop();
      const Value module = pop();
      if (!name.is(Value::Kind::String) || !module.is(Value::Kind::String)) fail("STACK_GLOBAL needs two strings");
      push(global(module.to_string(), name.to_string()));
      return true;
    }
    case REDUCE: {
      Value args = pop();
      Value callable = pop();
      if (!args.is(Value::Kind::Tuple)) fail(std::string("REDUCE arguments are a ") + kind_name(args.kind()));
      push_container(call(callable, args.items()));
      return true;
    }
    case NEWOBJ:
    case NEWOBJ_EX: {
      if (opcode == NEWOBJ_EX) pop();  // keyword arguments
      Value args = pop();
      Value cls = pop();
      push_container(call(cls, args.is(Value::Kind::Tuple) ? args.items() : List{}));
      return true;
    }
    case BUILD: build(pop()); return true;
    case BINPERSID: {
      Value id = pop();
      if (!persistent_load_) fail("persistent id without a loader");
      push(persistent_load_(id));
      return true;
    }
    default: return false;
  }
}

bool Unpickler::framing(uint8_t opcode) {
  switch (opcode) {
    case PROTO: {
      const uint8_t protocol = in_.u8("protocol");
      if (protocol > kHighestProtocol) fail("unsupported pickle protocol " + std::to_string(protocol));
      return true;
    }
    case FRAME:
      // Frames only group opcodes for buffered reading; the content is read as usual.
      if (in_.u64("FRAME size") > in_.remaining()) fail("FRAME runs past the end");
      return true;
    default: return false;
  }
}

std::string Unpickler::line(const char* what) {
  std::string text;
  for (char c; (c = static_cast<char>(in_.u8(what))) != '\n';) text.push_back(c);
  return text;
}

// LONG1/LONG4 payload: little-endian two's complement.
int64_t Unpickler::little_endian_integer(uint64_t size) {
  if (size > 8) fail("integer wider than 64 bits");
  const uint8_t* bytes = in_.take(size, "integer");
  uint64_t value = 0;
  for (uint64_t i = 0; i < size; ++i) value |= uint64_t{bytes[i]} << (8 * i);
  if (size > 0 && size < 8 && (bytes[size - 1] & 0x80)) value |= ~uint64_t{0} << (8 * size);  // sign-extend
  return static_cast<int64_t>(value);
}

double Unpickler::big_endian_double() {
  const uint8_t* bytes = in_.take(8, "BINFLOAT");
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | bytes[i];
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Keys of a pickled dict are unique (it came from a dict), so items are appended, not looked up.
void Unpickler::set_items(Value& target, List items) {
  if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
  if (target.is(Value::Kind::Object)) return;  // a dict subclass we do not interpret: its items are dropped
  if (!target.is(Value::Kind::Dict)) fail(std::string("SETITEMS on a ") + kind_name(target.kind()));
  auto& entries = target.to_dict().items;
  for (size_t i = 0; i < items.size(); i += 2) entries.emplace_back(std::move(items[i]), std::move(items[i + 1]));
}

// The only callables interpreted; any other becomes an opaque object holding its arguments.
Value Unpickler::call(const Value& callable, List args) {
  if (!callable.is(Value::Kind::Global)) fail(std::string("call of a ") + kind_name(callable.kind()));
  if (is_global(callable, "collections", "OrderedDict")) {
    Value dict = Value::dict(/*ordered=*/true);
    if (!args.empty() && args[0].is(Value::Kind::List)) {
      for (const Value& pair : args[0].items()) {
        if (pair.is(Value::Kind::Tuple) && pair.items().size() == 2) dict.to_dict().set(pair.items()[0], pair.items()[1]);
      }
    }
    return dict;
  }
  if (is_global(callable, "torch._utils", "_rebuild_tensor_v2") || is_global(callable, "torch._utils", "_rebuild_tensor")) {
    return rebuild_tensor(args);
  }
  if ((is_global(callable, "torch._utils", "_rebuild_parameter") ||
       is_global(callable, "torch._utils", "_rebuild_parameter_with_state")) &&
      !args.empty() && args[0].is(Value::Kind::Tensor)) {
    return args[0];
  }
  const Object& global = callable.to_object();
  return Value::object(global.module, global.name, std::move(args));
}

std::vector<int64_t> Unpickler::int_tuple(const Value& value, const char* what) {
  if (!value.is(Value::Kind::Tuple)) fail(std::string("tensor ") + what + " is a " + kind_name(value.kind()));
  std::vector<int64_t> ints;
  for (const Value& item : value.items()) {
    if (!item.is(Value::Kind::Int) || item.to_int() < 0) fail(std::string("tensor ") + what + " holds a non-integer or negative");
    ints.push_back(item.to_int());
  }
  return ints;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]):
// a strided view of the storage, which must hold offset + sum_i (size_i - 1) * stride_i.
Value Unpickler::rebuild_tensor(const List& args) {
  if (args.size() < 4 || !args[0].is(Value::Kind::Tensor) || !args[1].is(Value::Kind::Int)) {
    fail("_rebuild_tensor_v2 expects (storage, offset, size, stride, ...)");
  }
  const torch::Tensor& storage = args[0].to_tensor();
  // What a persistent id gave: a whole storage, not a view another _rebuild_tensor_v2 made of one
  // (whose size and stride could claim elements its storage does not have).
  if (storage.dim() != 1 || storage.storage_offset() != 0 || !storage.is_contiguous() ||
      storage.nbytes() != storage.storage().nbytes()) {
    fail("_rebuild_tensor_v2 of a tensor that is not a whole storage");
  }
  const int64_t offset = args[1].to_int();
  const std::vector<int64_t> sizes = int_tuple(args[2], "size");
  const std::vector<int64_t> strides = int_tuple(args[3], "stride");
  if (sizes.size() != strides.size()) fail("tensor size and stride differ in length");
  int64_t last = offset, numel = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    int64_t reach = 0;
    if (__builtin_mul_overflow(sizes[i] - 1, strides[i], &reach) || __builtin_add_overflow(last, reach, &last) ||
        __builtin_mul_overflow(numel, sizes[i], &numel)) {
      fail("tensor view overflows");
    }
  }
  if (numel == 0) return Value::tensor(torch::empty(sizes, storage.options()));
  if (offset < 0 || last >= storage.numel()) {
    fail("tensor view (offset " + std::to_string(offset) + ", last element " + std::to_string(last) +
         ") exceeds its storage of " + std::to_string(storage.numel()) + " elements");
  }
  return Value::tensor(storage.as_strided(sizes, strides, offset));
}

// BUILD sets an instance's state; only opaque objects keep it (an OrderedDict's is its _metadata).
void Unpickler::build(Value state) {
  Value& target = top();
  if (target.is(Value::Kind::Object)) target.to_object().state = std::move(state);
}


class Pickler {
 public:
  explicit Pickler(const PersistentId& persistent_id) : persistent_id_(persistent_id) {}

  std::string run(const Value& value) {
    out_ = {static_cast<char>(PROTO), 2};
    save(value);
    out_.push_back(static_cast<char>(STOP));
    return out_;
  }

 private:
  void opcode(uint8_t code) { out_.push_back(static_cast<char>(code)); }

  void save(const Value& value) {
    switch (value.kind()) {
      case Value::Kind::None: opcode(NONE); break;
      case Value::Kind::Bool: opcode(value.to_bool() ? NEWTRUE : NEWFALSE); break;
      case Value::Kind::Int: save_int(value.to_int()); break;
      case Value::Kind::Float: save_float(value.to_double()); break;
      case Value::Kind::String: save_sized(BINUNICODE, value.to_string()); break;
      case Value::Kind::Bytes: save_sized(BINBYTES, value.to_string()); break;
      case Value::Kind::List: save_list(value.items()); break;
      case Value::Kind::Tuple: save_tuple(value.items()); break;
      case Value::Kind::Dict: save_dict(value.to_dict()); break;
      case Value::Kind::Tensor: save_tensor(value.to_tensor()); break;
      case Value::Kind::Global: save_global(value.to_object().module, value.to_object().name); break;
      case Value::Kind::Object: save_object(value.to_object()); break;
    }
  }

  // The smallest encoding Python itself picks.
  void save_int(int64_t value) {
    if (value >= 0 && value <= 0xFF) {
      opcode(BININT1);
      out_.push_back(static_cast<char>(value));
    } else if (value >= 0 && value <= 0xFFFF) {
      opcode(BININT2);
      detail::append_u16(out_, static_cast<uint16_t>(value));
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      opcode(BININT);
      detail::append_u32(out_, static_cast<uint32_t>(static_cast<int32_t>(value)));
    } else {
      opcode(LONG1);
      out_.push_back(8);
      detail::append_u64(out_, static_cast<uint64_t>(value));
    }
  }

  void save_float(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    opcode(BINFLOAT);
    for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<char>(bits >> shift));
  }

  void save_sized(Opcode code, const std::string& text) {
    if (text.size() > UINT32_MAX) throw std::runtime_error("pickle: string or bytes longer than 4 GiB");
    opcode(code);
    detail::append_u32(out_, static_cast<uint32_t>(text.size()));
    out_ += text;
  }

  void save_global(const std::string& module, const std::string& name) {
    opcode(GLOBAL);
    out_ += module + "\n" + name + "\n";
  }

  void save_list(const List& items) {
    opcode(EMPTY_LIST);
    if (items.empty()) return;
    opcode(MARK);
    for (const Value& item : items) save(item);
    opcode(APPENDS);
  }

  void save_tuple(const List& items) {
    if (items.empty()) return opcode(EMPTY_TUPLE);
    if (items.size() > 3) opcode(MARK);
    for (const Value& item : items) save(item);
    opcode(items.size() > 3 ? TUPLE : static_cast<Opcode>(TUPLE1 + items.size() - 1));
  }

  void save_dict(const Dict& dict) {
    if (dict.ordered) {
      save_global("collections", "OrderedDict");
      opcode(EMPTY_TUPLE);
      opcode(REDUCE);
    } else {
      opcode(EMPTY_DICT);
    }
    if (dict.items.empty()) return;
    opcode(MARK);
    for (const auto& item : dict.items) {
      save(item.first);
      save(item.second);
    }
    opcode(SETITEMS);
  }

  // _rebuild_tensor_v2(storage, 0, size, contiguous stride, False, OrderedDict()).
  void save_tensor(const torch::Tensor& tensor) {
    save_global("torch._utils", "_rebuild_tensor_v2");
    opcode(MARK);
    save(persistent_id_(tensor));
    opcode(BINPERSID);
    save_int(0);
    List sizes, strides;
    int64_t stride = 1;
    for (int64_t dim = tensor.dim() - 1; dim >= 0; --dim) {
      sizes.insert(sizes.begin(), Value::integer(tensor.size(dim)));
      strides.insert(strides.begin(), Value::integer(stride));
      stride *= std::max<int64_t>(tensor.size(dim), 1);
    }
    save_tuple(sizes);
    save_tuple(strides);
    opcode(NEWFALSE);
    save_global("collections", "OrderedDict");
    opcode(EMPTY_TUPLE);
    opcode(REDUCE);
    opcode(TUPLE);
    opcode(REDUCE);
  }

  void save_object(const Object& object) {
    save_global(object.module, object.name);
    save_tuple(object.args);
    opcode(REDUCE);
    if (object.state.is_none()) return;
    save(object.state);
    opcode(BUILD);
  }

  const PersistentId& persistent_id_;
  std::string out_;
};

}  // namespace

Value unpickle(const uint8_t* data, size_t size, const std::string& source, const PersistentLoad& persistent_load) {
  return Unpickler(data, size, source, persistent_load).run();
}

std::string pickle(const Value& value, const PersistentId& persistent_id) { return Pickler(persistent_id).run(value); }

}  // namespace sit::io
