#include <sit/image/grid.h>

#include <algorithm>

#include <c10/util/Exception.h>

#include <sit/image/codec.h>

namespace sit::image {

torch::Tensor make_grid(const torch::Tensor& samples, const GridOptions& options) {
  TORCH_CHECK(samples.dim() == 4 && (samples.size(1) == 1 || samples.size(1) == 3),
              "make_grid expects samples (N, C, H, W) with C = 1 or 3, but got ", samples.sizes());
  TORCH_CHECK(samples.size(0) > 0, "make_grid expects at least one sample");
  TORCH_CHECK(options.nrow() > 0 && options.padding() >= 0,
              "make_grid expects nrow > 0 and padding >= 0, but got nrow=", options.nrow(),
              " padding=", options.padding());
  torch::Tensor images = samples.to(torch::kCPU, torch::kFloat).clone();
  if (images.size(1) == 1) images = images.expand({-1, 3, -1, -1}).contiguous();
  // norm_ip(img, -1, 1): clamp to the range, subtract the low end, divide by its width.
  images.clamp_(-1.0, 1.0).sub_(-1.0).div_(2.0);
  if (images.size(0) == 1) return images[0];

  const int64_t n = images.size(0), padding = options.padding();
  const int64_t cols = std::min(options.nrow(), n);
  const int64_t rows = (n + cols - 1) / cols;
  const int64_t tile_height = images.size(2) + padding, tile_width = images.size(3) + padding;
  torch::Tensor grid = torch::full({3, tile_height * rows + padding, tile_width * cols + padding},
                                   options.pad_value(), torch::kFloat);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t top = (k / cols) * tile_height + padding;
    const int64_t left = (k % cols) * tile_width + padding;
    grid.narrow(1, top, images.size(2)).narrow(2, left, images.size(3)).copy_(images[k]);
  }
  return grid;
}

torch::Tensor grid_to_uint8(const torch::Tensor& grid) {
  TORCH_CHECK(grid.dim() == 3, "grid_to_uint8 expects a (C, H, W) grid, but got ", grid.sizes());
  return grid.mul(255).add_(0.5).clamp_(0, 255).permute({1, 2, 0}).to(torch::kUInt8).contiguous();
}

void save_image(const std::string& path, const torch::Tensor& samples, const GridOptions& options) {
  write_png(path, grid_to_uint8(make_grid(samples, options)));
}

}  // namespace sit::image
