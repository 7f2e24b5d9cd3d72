#pragma once
// NumPy .npy arrays and .npz archives <-> torch::Tensor (CPU).
//
// Supported element types: <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1, little-endian, C order. Readers
// check every size against the bytes present and throw std::runtime_error("<file>: <problem>").

#include <string>

#include <torch/types.h>  // before ordered_dict.h, which uses TORCH_CHECK without including it
#include <torch/ordered_dict.h>

namespace sit::io {

/// Arrays of an .npz, keyed by member name without the ".npy" suffix, in archive order.
using NamedArrays = torch::OrderedDict<std::string, torch::Tensor>;

/// Reads a .npy file (format versions 1, 2 and 3).
torch::Tensor read_npy(const std::string& path);

/// Parses .npy bytes held in memory; `source` names them in error messages.
torch::Tensor decode_npy(const uint8_t* data, size_t size, const std::string& source);

/// Writes `array` (any layout and device; stored as C-order CPU data) as a version 1 .npy.
void write_npy(const std::string& path, const torch::Tensor& array);

/// Reads every member of an .npz (stored or deflated), keyed by name without ".npy".
NamedArrays read_npz(const std::string& path);

/// Writes an uncompressed .npz, as numpy.savez does; member i is `key(i) + ".npy"`.
void write_npz(const std::string& path, const NamedArrays& arrays);

}  // namespace sit::io
