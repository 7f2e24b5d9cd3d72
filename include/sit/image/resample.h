#pragma once
// PIL's resampling (Pillow libImaging/Resample.c), bit for bit on 8-bit images, so that a crop made
// here equals the one the official train.py makes with PIL.

#include <cstdint>

#include <torch/types.h>

namespace sit::image {

// The two filters ADM's center_crop_arr uses. Box: 1 on (-1/2, 1/2], support 1/2. Bicubic: Keys'
// cubic convolution with a = -1/2, support 2. When downscaling by s > 1 the kernel is stretched to
// support * s (antialiasing), exactly as PIL does.
enum class Filter { Box, Bicubic };

// PIL's `Image.resize((out_width, out_height), filter)` of an (H, W, C) uint8 image: a horizontal
// pass then a vertical pass, each with 22-bit fixed-point weights and a uint8 result.
// Returns (out_height, out_width, C) uint8.
torch::Tensor resize(const torch::Tensor& image, int64_t out_height, int64_t out_width,
                     Filter filter);

}  // namespace sit::image
