#pragma once
// From model space [-1, 1] to 8-bit pixels, by the rule the official evaluation export uses.

#include <torch/types.h>

namespace sit::image {

// ADM / SiT sample_ddp.py: clamp(127.5 x + 128, 0, 255), cast to uint8 (truncating), so 0 maps to
// 128. (N, C, H, W) float -> (N, H, W, C) uint8, the layout of the reference .npz batches.
torch::Tensor to_uint8_nhwc(const torch::Tensor& samples);

}  // namespace sit::image
