#pragma once
// ADM's center crop (guided-diffusion image_datasets.py `center_crop_arr`), the crop the official
// SiT train.py applies to every ImageNet image.

#include <cstdint>

#include <torch/types.h>

namespace sit::image {

// (H, W, C) uint8 -> (image_size, image_size, C) uint8:
//   while min(H, W) >= 2 * image_size: box-downsample to (H // 2, W // 2);
//   bicubic-resize so that the short side is image_size (long side round(side * scale), Python's
//   round, ties to even); take the central image_size square (offset (side - image_size) // 2).
torch::Tensor center_crop_arr(const torch::Tensor& image, int64_t image_size);

}  // namespace sit::image
