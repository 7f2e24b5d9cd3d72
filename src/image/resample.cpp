#include <sit/image/resample.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <c10/util/Exception.h>

namespace sit::image {
namespace {

// Fixed-point weights: 8 bits for the pixel, 2 for the overshoot of negative lobes, 22 for the
// fraction.
constexpr int kPrecisionBits = 32 - 8 - 2;

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

// Keys (1981) cubic convolution, a = -1/2.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Each output sample `out` reads inputs [first[out], first[out] + count[out]) with `weights`
// (fixed point), `taps` slots per output.
struct Coefficients {
  int taps = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

// PIL's precompute_coeffs + normalize_coeffs_8bpc for the whole input range [0, in_size).
Coefficients precompute(int in_size, int out_size, Filter filter) {
  double (*kernel)(double) = filter == Filter::Box ? box_filter : bicubic_filter;
  const double kernel_support = filter == Filter::Box ? 0.5 : 2.0;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = kernel_support * filter_scale;
  // PIL multiplies by the reciprocal; dividing would round differently.
  const double inverse_filter_scale = 1.0 / filter_scale;

  Coefficients c;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.taps, 0);
  std::vector<double> w(c.taps);
  for (int out = 0; out < out_size; ++out) {
    const double center = (out + 0.5) * scale;
    // Truncation after + 0.5 is PIL's rounding; it differs from std::round below zero.
    const int begin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int end = std::min(static_cast<int>(center + support + 0.5), in_size);
    double total = 0.0;
    for (int i = begin; i < end; ++i) {
      w[i - begin] = kernel((i - center + 0.5) * inverse_filter_scale);
      total += w[i - begin];
    }
    for (int i = 0; i < end - begin; ++i) {
      const double normalized = total != 0.0 ? w[i] / total : w[i];
      const double fixed = normalized * (1 << kPrecisionBits);
      c.weights[static_cast<size_t>(out) * c.taps + i] =
          static_cast<int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    c.first[out] = begin;
    c.count[out] = end - begin;
  }
  return c;
}

uint8_t clip8(int32_t sum) {
  return static_cast<uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255));
}

// One PIL pass over an (H, W, C) uint8 image along `axis` (0: vertical, 1: horizontal); the two
// passes are the same loop over lines of taps with different strides.
torch::Tensor resample_axis(const torch::Tensor& in, int out_size, Filter filter, int axis) {
  const int in_size = static_cast<int>(in.size(axis));
  const Coefficients c = precompute(in_size, out_size, filter);
  std::vector<int64_t> out_shape = in.sizes().vec();
  out_shape[axis] = out_size;
  torch::Tensor out = torch::empty(out_shape, torch::kUInt8);

  const uint8_t* src = in.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  const int64_t channels = in.size(2);
  // Vertical: a line is a column and its taps are W*C bytes apart. Horizontal: a line is a row
  // and its taps are C bytes apart.
  const int64_t lines = in.size(1 - axis);
  const int64_t tap_stride = axis == 0 ? in.size(1) * channels : channels;
  const int64_t in_line_stride = axis == 0 ? channels : in.size(1) * channels;
  const int64_t out_line_stride = axis == 0 ? channels : static_cast<int64_t>(out_size) * channels;

  for (int64_t line = 0; line < lines; ++line) {
    for (int o = 0; o < out_size; ++o) {
      const int32_t* w = &c.weights[static_cast<size_t>(o) * c.taps];
      for (int64_t ch = 0; ch < channels; ++ch) {
        const uint8_t* p = src + line * in_line_stride + c.first[o] * tap_stride + ch;
        int32_t sum = 1 << (kPrecisionBits - 1);  // one half: the shift in clip8 then rounds
        for (int k = 0; k < c.count[o]; ++k) sum += p[k * tap_stride] * w[k];
        dst[line * out_line_stride + o * tap_stride + ch] = clip8(sum);
      }
    }
  }
  return out;
}

}  // namespace

torch::Tensor resize(const torch::Tensor& image, int64_t out_height, int64_t out_width,
                     Filter filter) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8,
              "resize expects an (H, W, C) uint8 image, but got ", image.sizes(), " ",
              image.scalar_type());
  TORCH_CHECK(out_height > 0 && out_width > 0, "resize expects a positive output size, but got ",
              out_height, "x", out_width);
  // PIL resamples horizontally first and rounds to uint8 between the passes; a pass whose size
  // does not change is skipped (it would be the identity).
  torch::Tensor out = image.contiguous();
  if (out_width != out.size(1)) out = resample_axis(out, static_cast<int>(out_width), filter, 1);
  if (out_height != out.size(0)) out = resample_axis(out, static_cast<int>(out_height), filter, 0);
  return out.is_same(image) ? out.clone() : out;
}

}  // namespace sit::image
