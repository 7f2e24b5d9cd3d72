#include <sit/data/fashion_mnist.h>

#include <filesystem>

#include <c10/util/Exception.h>

#include <sit/data/idx.h>
#include <sit/data/transforms.h>

namespace sit::data {
namespace {

namespace fs = std::filesystem;

// `<root>/<name>.gz`, or `<root>/<name>` when only the uncompressed file is there.
std::string find_file(const fs::path& root, const std::string& name) {
  const fs::path gz = root / (name + ".gz"), plain = root / name;
  if (fs::exists(gz)) return gz.string();
  TORCH_CHECK(fs::exists(plain), "FashionMNIST: neither '", gz.string(), "' nor '",
              plain.string(), "' exists");
  return plain.string();
}

}  // namespace

FashionMNIST::FashionMNIST(FashionMNISTOptions options) : options_(std::move(options)) {
  const fs::path root = options_.root();
  TORCH_CHECK(fs::is_directory(root), "FashionMNIST: directory '", root.string(),
              "' does not exist");
  const std::string split = options_.train() ? "train" : "t10k";
  const std::string images_path = find_file(root, split + "-images-idx3-ubyte");
  const std::string labels_path = find_file(root, split + "-labels-idx1-ubyte");

  images_ = read_idx(images_path);
  const torch::Tensor labels = read_idx(labels_path);
  TORCH_CHECK(images_.dim() == 3 && images_.size(1) == 28 && images_.size(2) == 28,
              "FashionMNIST: '", images_path, "' holds ", images_.sizes(),
              " instead of (N, 28, 28) images");
  TORCH_CHECK(labels.dim() == 1, "FashionMNIST: '", labels_path, "' holds ", labels.sizes(),
              " instead of (N,) labels");
  TORCH_CHECK(labels.size(0) == images_.size(0), "FashionMNIST: '", images_path, "' holds ",
              images_.size(0), " images but '", labels_path, "' holds ", labels.size(0),
              " labels");
  TORCH_CHECK(labels.numel() == 0 || labels.max().item<int64_t>() < 10, "FashionMNIST: '",
              labels_path, "' holds label ", labels.max().item<int64_t>(), ", expected 0..9");
  labels_ = labels.to(torch::kLong);
}

size_t FashionMNIST::size() const { return static_cast<size_t>(images_.size(0)); }

Example FashionMNIST::get(size_t index, std::mt19937_64& rng) const {
  TORCH_CHECK(index < size(), "FashionMNIST: index ", index, " out of range for ", size(),
              " examples");
  const bool flip = options_.random_flip() && draw_flip(rng);
  const auto i = static_cast<int64_t>(index);
  return {to_model_space(images_[i].unsqueeze(2), flip), labels_.data_ptr<int64_t>()[i]};
}

}  // namespace sit::data
