#include <sit/image/quantize.h>

#include <c10/util/Exception.h>

namespace sit::image {

torch::Tensor to_uint8_nhwc(const torch::Tensor& samples) {
  TORCH_CHECK(samples.dim() == 4 && samples.is_floating_point(),
              "to_uint8_nhwc expects (N, C, H, W) floating-point samples, but got ",
              samples.sizes(), " ", samples.scalar_type());
  return torch::clamp(127.5 * samples + 128.0, 0, 255)
      .permute({0, 2, 3, 1})
      .to(torch::kCPU, torch::kUInt8)
      .contiguous();
}

}  // namespace sit::image
