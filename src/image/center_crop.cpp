#include <sit/image/center_crop.h>

#include <algorithm>
#include <cmath>

#include <c10/util/Exception.h>

#include <sit/image/resample.h>

namespace sit::image {

torch::Tensor center_crop_arr(const torch::Tensor& image, int64_t image_size) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8,
              "center_crop_arr expects an (H, W, C) uint8 image, but got ", image.sizes(), " ",
              image.scalar_type());
  TORCH_CHECK(image_size > 0, "center_crop_arr expects a positive image_size, but got ",
              image_size);
  torch::Tensor out = image;
  while (std::min(out.size(0), out.size(1)) >= 2 * image_size) {
    out = resize(out, out.size(0) / 2, out.size(1) / 2, Filter::Box);
  }
  const double scale = static_cast<double>(image_size) / std::min(out.size(0), out.size(1));
  // std::nearbyint rounds ties to even under the default rounding mode, like Python's round.
  const auto height = static_cast<int64_t>(std::nearbyint(out.size(0) * scale));
  const auto width = static_cast<int64_t>(std::nearbyint(out.size(1) * scale));
  out = resize(out, height, width, Filter::Bicubic);
  const int64_t top = (height - image_size) / 2;
  const int64_t left = (width - image_size) / 2;
  return out.slice(0, top, top + image_size).slice(1, left, left + image_size).contiguous();
}

}  // namespace sit::image
