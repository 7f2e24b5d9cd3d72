#pragma once
// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
// of JSON {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}, then the raw little-endian data, offsets relative to its start.
//
// Supported dtypes: F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL.

#include <map>
#include <string>

#include <torch/types.h>  // before ordered_dict.h, which uses TORCH_CHECK without including it
#include <torch/ordered_dict.h>

namespace sit::io {

struct Safetensors {
  torch::OrderedDict<std::string, torch::Tensor> tensors;  // in header order
  std::map<std::string, std::string> metadata;             // "__metadata__"
};

/// Reads every tensor; the header and each data range are checked against the file and the
/// dtype x shape sizes, and the data ranges must tile the data section exactly, as the reference
/// implementation requires. Throws std::runtime_error("<path>: <problem>").
Safetensors read_safetensors(const std::string& path);

/// The "__metadata__" alone (empty when there is none), reading the header and not the data.
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

/// Writes tensors in sorted name order after a header padded with spaces to a multiple of 8 bytes;
/// tensors are saved contiguous and on the CPU. Atomic: written to `path + ".tmp"`, then renamed.
void write_safetensors(const std::string& path, const torch::OrderedDict<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace sit::io
