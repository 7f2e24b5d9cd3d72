#pragma once
// An image classification set laid out as torchvision's ImageFolder (the ImageNet train layout):
// root/<class>/**/<image>, prepared as the official train.py does.

#include <string>
#include <utility>
#include <vector>

#include <torch/arg.h>

#include <sit/data/dataset.h>

namespace sit::data {

struct ImageFolderOptions {
  /* implicit */ ImageFolderOptions(std::string root) : root_(std::move(root)) {}
  // One sub-folder per class.
  TORCH_ARG(std::string, root);
  // Side of the square crop (train.py --image-size).
  TORCH_ARG(int64_t, image_size) = 256;
  // RandomHorizontalFlip(p = 0.5), drawn from each example's generator.
  TORCH_ARG(bool, random_flip) = true;
};

// Classes are the sub-folders of root sorted by name, labelled 0, 1, ...; samples are the files
// below each class folder (recursively) whose extension, in any case, is one of torchvision's
// .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp, in torchvision's order. stb_image decodes them
// (it cannot read .tif/.webp, which then fail with a clear error; its JPEG decoder may differ from
// libjpeg by a few levels). get() then applies center_crop_arr, the optional flip and
// ToTensor + Normalize(0.5, 0.5): x is (3, image_size, image_size) in [-1, 1].
class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(ImageFolderOptions options);

  size_t size() const override { return samples_.size(); }
  Example get(size_t index, std::mt19937_64& rng) const override;
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  std::array<int64_t, 3> shape() const override {
    return {3, options_.image_size(), options_.image_size()};
  }

  const std::vector<std::string>& classes() const { return classes_; }
  // (path, label) of every image, as torchvision's ImageFolder.samples.
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }

 private:
  ImageFolderOptions options_;
  std::vector<std::string> classes_;
  std::vector<std::pair<std::string, int64_t>> samples_;
};

}  // namespace sit::data
