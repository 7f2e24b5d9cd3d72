#include <sit/data/transforms.h>

#include <c10/util/Exception.h>

namespace sit::data {

bool draw_flip(std::mt19937_64& rng) { return (rng() >> 63) != 0; }

torch::Tensor to_model_space(const torch::Tensor& image, bool flip) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8,
              "to_model_space expects an (H, W, C) uint8 image, but got ", image.sizes(), " ",
              image.scalar_type());
  torch::Tensor x = image.permute({2, 0, 1});
  if (flip) x = x.flip({2});
  return x.to(torch::kFloat).div_(255).sub_(0.5).div_(0.5).contiguous();
}

}  // namespace sit::data
