#pragma once
// Images as the FID Inception-v3 takes them, in one of two conventions that published numbers used:
//
//   adm          the ADM evaluator (guided-diffusion's evaluations/evaluator.py), which feeds the
//                TensorFlow graph: TF1 ResizeBilinear of the 0..255 values to 299x299
//                (align_corners false, half_pixel_centers false), then (x - 128) / 128.
//   pytorch-fid  pytorch-fid: x / 255, torch's bilinear interpolate (align_corners false), 2x - 1.
//
// The two resizes differ (TF1 samples at y * in/out, torch at (y + 1/2) in/out - 1/2), so FIDs
// computed in the two modes are not comparable with each other.

#include <sit/config/enum_names.h>

#include <torch/types.h>

namespace sit::eval {

enum class InputMode { ADM, PytorchFid };
constexpr auto enum_table(InputMode) {
  return config::EnumTable<InputMode, 2>{"input mode",
                                         {{{InputMode::ADM, "adm"}, {InputMode::PytorchFid, "pytorch-fid"}}}};
}

/// The graph's input side.
constexpr int64_t kInceptionResolution = 299;

/// TensorFlow 1's ResizeBilinear with align_corners and half_pixel_centers false: output pixel y
/// reads input y * in/out (float32), interpolating its floor and the next row (clamped). x (N, C,
/// H, W) float32 -> (N, C, height, width), computed in TensorFlow's order of operations.
torch::Tensor resize_bilinear_tf1(const torch::Tensor& x, int64_t height, int64_t width);

/// uint8 images (N, H, W, C), C = 1 (replicated) or 3 -> float32 (N, 3, 299, 299) on their device.
torch::Tensor inception_input(const torch::Tensor& images, InputMode mode);

}  // namespace sit::eval
