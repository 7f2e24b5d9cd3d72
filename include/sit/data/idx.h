#pragma once
// LeCun's IDX format (MNIST, Fashion-MNIST), plain or gzip-compressed.

#include <string>

#include <torch/types.h>

namespace sit::data {

// Layout: bytes 0, 0, type (0x08 = unsigned byte, the only one accepted), rank; then `rank`
// big-endian uint32 dimensions; then the data in row-major order. Returns a uint8 tensor with those
// dimensions. Throws, naming the file, on a missing file, a bad magic number or truncated data.
torch::Tensor read_idx(const std::string& path);

}  // namespace sit::data
