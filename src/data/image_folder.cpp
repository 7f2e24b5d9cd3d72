#include <sit/data/image_folder.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <c10/util/Exception.h>

#include <sit/data/transforms.h>
#include <sit/image/center_crop.h>
#include <sit/image/codec.h>

namespace sit::data {
namespace {

namespace fs = std::filesystem;

bool has_image_extension(const fs::path& file) {
  static const char* const kExtensions[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                            ".pgm", ".tif",  ".tiff", ".webp"};
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kExtensions), std::end(kExtensions), extension) !=
         std::end(kExtensions);
}

// torchvision walks each class with sorted(os.walk(...)) and sorts the file names of every folder:
// files are ordered by (folder path, file name).
std::vector<std::string> image_files(const fs::path& class_dir) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : fs::recursive_directory_iterator(
           class_dir, fs::directory_options::follow_directory_symlink)) {
    if (!entry.is_directory() && has_image_extension(entry.path())) {
      files.emplace_back(entry.path().parent_path().string(), entry.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> paths;
  for (const auto& [folder, name] : files) paths.push_back((fs::path(folder) / name).string());
  return paths;
}

}  // namespace

ImageFolder::ImageFolder(ImageFolderOptions options) : options_(std::move(options)) {
  const fs::path root = options_.root();
  TORCH_CHECK(fs::is_directory(root), "ImageFolder: directory '", root.string(),
              "' does not exist");
  TORCH_CHECK(options_.image_size() > 0, "ImageFolder: image_size must be positive, but got ",
              options_.image_size());
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  }
  std::sort(classes_.begin(), classes_.end());
  TORCH_CHECK(!classes_.empty(), "ImageFolder: no class folders in '", root.string(), "'");
  for (size_t label = 0; label < classes_.size(); ++label) {
    const std::vector<std::string> files = image_files(root / classes_[label]);
    TORCH_CHECK(!files.empty(), "ImageFolder: no image files in class folder '",
                (root / classes_[label]).string(), "'");
    for (const std::string& file : files) samples_.emplace_back(file, label);
  }
}

Example ImageFolder::get(size_t index, std::mt19937_64& rng) const {
  TORCH_CHECK(index < size(), "ImageFolder: index ", index, " out of range for ", size(),
              " images");
  const auto& [path, label] = samples_[index];
  const torch::Tensor image = image::center_crop_arr(image::read_rgb(path), options_.image_size());
  const bool flip = options_.random_flip() && draw_flip(rng);
  return {to_model_space(image, flip), label};
}

}  // namespace sit::data
