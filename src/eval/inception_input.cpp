#include <sit/eval/inception_input.h>

#include <torch/torch.h>

#include <cmath>

namespace sit::eval {

namespace {

// TensorFlow's interpolation weights along one axis (legacy scaler): source position
// in = out_index * (in_size / out_size) in float32, lower = floor(in), upper = min(ceil(in), in_size - 1).
struct AxisLerp {
  torch::Tensor lower, upper;  // (out,) int64
  torch::Tensor weight;        // (out,) float32: in - floor(in)
};

AxisLerp axis_lerp(int64_t in_size, int64_t out_size, const torch::Device& device) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  auto lower = torch::empty({out_size}, torch::kInt64), upper = torch::empty({out_size}, torch::kInt64);
  auto weight = torch::empty({out_size}, torch::kFloat32);
  auto l = lower.accessor<int64_t, 1>(), u = upper.accessor<int64_t, 1>();
  auto w = weight.accessor<float, 1>();
  for (int64_t i = 0; i < out_size; ++i) {
    const float in = static_cast<float>(i) * scale;
    const float floor = std::floor(in);
    l[i] = std::max<int64_t>(static_cast<int64_t>(floor), 0);
    u[i] = std::min<int64_t>(static_cast<int64_t>(std::ceil(in)), in_size - 1);
    w[i] = in - floor;
  }
  return {lower.to(device), upper.to(device), weight.to(device)};
}

}  // namespace

torch::Tensor resize_bilinear_tf1(const torch::Tensor& x, int64_t height, int64_t width) {
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == torch::kFloat32, "resize_bilinear_tf1 takes float32 (N, C, H, W), got ",
              x.scalar_type(), " ", x.sizes());
  TORCH_CHECK(height > 0 && width > 0 && x.size(2) > 0 && x.size(3) > 0, "resize_bilinear_tf1: empty image or size");
  const auto ys = axis_lerp(x.size(2), height, x.device()), xs = axis_lerp(x.size(3), width, x.device());
  const auto top = x.index_select(2, ys.lower), bottom = x.index_select(2, ys.upper);  // (N, C, height, W)
  const auto x_weight = xs.weight.view({1, 1, 1, width});
  // TensorFlow's compute_lerp: top + (bottom - top) * y_lerp of the two row interpolations.
  auto row = [&](const torch::Tensor& r) {
    const auto left = r.index_select(3, xs.lower), right = r.index_select(3, xs.upper);
    return left + (right - left) * x_weight;
  };
  const auto upper_row = row(top), lower_row = row(bottom);
  return upper_row + (lower_row - upper_row) * ys.weight.view({1, 1, height, 1});
}

torch::Tensor inception_input(const torch::Tensor& images, InputMode mode) {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8 && (images.size(3) == 1 || images.size(3) == 3),
              "images must be uint8 (N, H, W, C) with C = 1 or 3, got ", images.scalar_type(), " ", images.sizes());
  const int64_t side = kInceptionResolution;
  auto x = images.permute({0, 3, 1, 2}).to(torch::kFloat32);  // (N, C, H, W)
  if (mode == InputMode::ADM) {
    x = (resize_bilinear_tf1(x.contiguous(), side, side) - 128.0f) / 128.0f;
  } else {
    namespace F = torch::nn::functional;
    x = F::interpolate(x / 255.0f, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{side, side})
                                       .mode(torch::kBilinear)
                                       .align_corners(false));
    x = 2 * x - 1;
  }
  return x.expand({x.size(0), 3, side, side}).contiguous();
}

}  // namespace sit::eval
