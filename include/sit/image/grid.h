#pragma once
// A grid of samples saved as one PNG, as torchvision's `save_image(samples, path, nrow=...,
// normalize=True, value_range=(-1, 1))` in the official sample.py.

#include <cstdint>
#include <string>

#include <torch/arg.h>
#include <torch/types.h>

#include <sit/image/quantize.h>

namespace sit::image {

struct GridOptions {
  // Images per row; the number of rows is ceil(N / nrow).
  TORCH_ARG(int64_t, nrow) = 8;
  // Pixels between images and around the border.
  TORCH_ARG(int64_t, padding) = 2;
  // Value of the padding, in [0, 1] like the normalized images.
  TORCH_ARG(double, pad_value) = 0.0;
};

// torchvision make_grid: samples (N, C, H, W) in [-1, 1], C = 1 or 3, are clamped and mapped to
// [0, 1] by (x + 1) / 2, grey is replicated to RGB, and tiles are laid out row-major in a
// (3, rows * (H + p) + p, cols * (W + p) + p) float tensor, cols = min(nrow, N). A single sample
// comes back alone, without padding.
torch::Tensor make_grid(const torch::Tensor& samples, const GridOptions& options = {});

// save_image's quantization of a make_grid result: (C, H, W) in [0, 1] -> (H, W, C) uint8 by
// uint8(clamp(255 x + 0.5, 0, 255)), i.e. rounding half up.
torch::Tensor grid_to_uint8(const torch::Tensor& grid);

// make_grid + grid_to_uint8, written as PNG atomically (see write_png).
void save_image(const std::string& path, const torch::Tensor& samples,
                const GridOptions& options = {});

}  // namespace sit::image
