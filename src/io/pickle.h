#pragma once
// A safe reader and a small writer for the Python pickles inside torch.save archives.
//
// The reader never imports or calls anything. It interprets the few callables torch.save emits —
// collections.OrderedDict, torch._utils._rebuild_tensor_v2 (and _rebuild_tensor, _rebuild_parameter)
// — and turns every other class or function into an opaque Value::Kind::Object that keeps its
// arguments and BUILD state (argparse.Namespace, numpy scalars...), so unknown content never fails
// a load. Malformed input (bad opcode, stack or memo underflow, truncation) throws
// std::runtime_error("<source>: <problem> at byte N").

#include <cstdint>
#include <functional>
#include <string>

#include <sit/io/value.h>

namespace sit::io {

/// Resolves a persistent id (BINPERSID) to its object. torch.save's ids are tuples
/// ('storage', <torch.FloatStorage global>, key, location, numel); the loader returns the storage
/// as a 1-D tensor of that dtype, which _rebuild_tensor_v2 then views.
using PersistentLoad = std::function<Value(const Value& persistent_id)>;

/// Reads pickle protocols 2 to 5 (the binary opcodes; the text opcodes of protocol 0 are rejected).
Value unpickle(const uint8_t* data, size_t size, const std::string& source,
               const PersistentLoad& persistent_load = nullptr);

/// Gives, for a tensor about to be pickled, the persistent id of a storage that holds its elements
/// contiguously from offset 0.
using PersistentId = std::function<Value(const torch::Tensor& tensor)>;

/// Writes `value` as a protocol 2 pickle, as torch.save does: dicts marked ordered as
/// collections.OrderedDict, tensors as _rebuild_tensor_v2(<persistent id>, 0, size, contiguous
/// stride, False, OrderedDict()), objects as `module.name(*args)` then BUILD(state).
std::string pickle(const Value& value, const PersistentId& persistent_id);

}  // namespace sit::io
