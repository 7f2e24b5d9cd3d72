#include <sit/data/latent_shards.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/types.h>

#include <sit/io/npy.h>

namespace sit::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLatents = "latents_";
constexpr const char* kPosteriors = "posteriors_";
constexpr const char* kLabels = "labels_";

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// Shard id ("00000") -> file name, for the files of `root` named <prefix><id>.npy.
std::map<std::string, std::string> files_with_prefix(const fs::path& root,
                                                     const std::string& prefix) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && starts_with(name, prefix) && entry.path().extension() == ".npy") {
      files[name.substr(prefix.size(), name.size() - prefix.size() - 4)] = entry.path().string();
    }
  }
  return files;
}

}  // namespace

LatentShards::LatentShards(LatentShardsOptions options) : options_(std::move(options)) {
  const fs::path root = options_.root();
  TORCH_CHECK(fs::is_directory(root), "LatentShards: directory '", root.string(),
              "' does not exist");
  const auto latents = files_with_prefix(root, kLatents);
  const auto posteriors = files_with_prefix(root, kPosteriors);
  const auto labels = files_with_prefix(root, kLabels);
  TORCH_CHECK(latents.empty() || posteriors.empty(), "LatentShards: '", root.string(),
              "' mixes latents_*.npy and posteriors_*.npy shards");
  has_posteriors_ = !posteriors.empty();
  const auto& shards = has_posteriors_ ? posteriors : latents;
  TORCH_CHECK(!shards.empty(), "LatentShards: no latents_*.npy or posteriors_*.npy in '",
              root.string(), "'");

  for (const auto& [id, data_path] : shards) {
    const auto label_file = labels.find(id);
    TORCH_CHECK(label_file != labels.end(), "LatentShards: '", data_path, "' has no labels file '",
                (root / (kLabels + id + ".npy")).string(), "'");
    const std::string& labels_path = label_file->second;
    torch::Tensor data = io::read_npy(data_path);
    torch::Tensor shard_labels = io::read_npy(labels_path);

    TORCH_CHECK(data.dim() == 4 && (data.scalar_type() == torch::kFloat ||
                                    data.scalar_type() == torch::kHalf),
                "LatentShards: '", data_path, "' holds ", data.scalar_type(), " ", data.sizes(),
                ", expected (n, C, H, W) float32 or float16");
    TORCH_CHECK(!has_posteriors_ || data.size(1) % 2 == 0, "LatentShards: '", data_path,
                "' has ", data.size(1), " channels, expected 2C (mean and std)");
    const std::array<int64_t, 3> shape = {data.size(1) / (has_posteriors_ ? 2 : 1), data.size(2),
                                          data.size(3)};
    if (data_.empty()) shape_ = shape;
    TORCH_CHECK(shape == shape_, "LatentShards: '", data_path, "' holds latents of shape ",
                torch::IntArrayRef(shape), " but the first shard's are ", torch::IntArrayRef(shape_));

    TORCH_CHECK(shard_labels.dim() == 1 && (shard_labels.scalar_type() == torch::kLong ||
                                            shard_labels.scalar_type() == torch::kInt),
                "LatentShards: '", labels_path, "' holds ", shard_labels.scalar_type(), " ",
                shard_labels.sizes(), ", expected (n,) int64");
    TORCH_CHECK(shard_labels.size(0) == data.size(0), "LatentShards: '", labels_path, "' holds ",
                shard_labels.size(0), " labels but '", data_path, "' holds ", data.size(0),
                " latents");
    shard_labels = shard_labels.to(torch::kLong);
    if (shard_labels.numel() > 0) {
      const int64_t low = shard_labels.min().item<int64_t>();
      const int64_t high = shard_labels.max().item<int64_t>();
      TORCH_CHECK(low >= 0 && high < options_.num_classes(), "LatentShards: '", labels_path,
                  "' holds labels in [", low, ", ", high, "], expected [0, ",
                  options_.num_classes(), ")");
    }
    offsets_.push_back(offsets_.back() + data.size(0));
    data_.push_back(std::move(data));
    labels_.push_back(std::move(shard_labels));
  }
  TORCH_CHECK(offsets_.back() > 0, "LatentShards: the shards in '", root.string(),
              "' hold no examples");
}

Example LatentShards::get(size_t index, std::mt19937_64& rng) const {
  TORCH_CHECK(index < size(), "LatentShards: index ", index, " out of range for ", size(),
              " latents");
  const auto global = static_cast<int64_t>(index);
  const size_t shard =
      std::upper_bound(offsets_.begin(), offsets_.end(), global) - offsets_.begin() - 1;
  const int64_t row = global - offsets_[shard];
  const torch::Tensor stored = data_[shard][row].to(torch::kFloat, /*non_blocking=*/false,
                                                     /*copy=*/true);
  const int64_t label = labels_[shard].data_ptr<int64_t>()[row];
  if (!has_posteriors_) return {stored, label};

  const int64_t channels = shape_[0];
  torch::Tensor mean = stored.narrow(0, 0, channels);
  if (!options_.sample_posterior()) return {mean.clone(), label};
  const torch::Tensor std = stored.narrow(0, channels, channels);
  auto generator = at::detail::createCPUGenerator(rng());
  return {mean + std * torch::randn(mean.sizes(), generator), label};
}

}  // namespace sit::data
