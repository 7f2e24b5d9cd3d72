#pragma once
// torch.load for the zip format torch.save has written since PyTorch 1.6, without Python.
//
// An archive holds <prefix>/data.pkl (the pickled object), <prefix>/data/<key> (one record per
// storage, raw little-endian elements) and <prefix>/version; <prefix> is the archive's top folder,
// whatever its name. Tensors come back on the CPU as views of their storages, with the offsets,
// sizes and strides Python saved: float32, float16, bfloat16, float64, int64, int32, int16, int8,
// uint8 and bool.

#include <string>

#include <sit/io/value.h>

namespace sit::io {

/// Reads a torch.save file into a Value tree (see pickle.h for what unknown classes become).
/// Throws std::runtime_error("<path>: <problem>"), including for the legacy pre-1.6 format.
Value torch_load(const std::string& path);

/// Writes `value` as torch.save(value, path) would (protocol 2 pickle, one stored record per
/// tensor, data aligned to 64 bytes), readable by torch.load in PyTorch 1.6 and later. Tensors are
/// saved contiguous and on the CPU; tensors that shared a storage are saved separately. The file is
/// written to `path + ".tmp"` and renamed.
void torch_save(const Value& value, const std::string& path);

}  // namespace sit::io
