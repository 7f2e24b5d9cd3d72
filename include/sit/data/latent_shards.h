#pragma once
// Pre-extracted VAE latents (as fast-DiT's extract_features.py makes), so training skips the
// encoder.
//
// Layout of `root`, one pair of .npy files per shard, shards taken in file-name order:
//   latents_00000.npy     (n, C, H, W) float32 or float16: latents as the model sees them (already
//                         times the VAE scale factor, 0.18215 for SD's VAE); or instead
//   posteriors_00000.npy  (n, 2C, H, W): the encoder's Gaussian, channels [0, C) the mean and
//                         [C, 2C) the standard deviation (both scaled likewise), so that every
//                         epoch can draw a fresh latent mean + std * eps;
//   labels_00000.npy      (n,) int64 (or int32) class labels in [0, num_classes).
// The number after the prefix may have any width; every data file needs its labels file, all data
// files use one prefix and one (C, H, W).

#include <string>
#include <vector>

#include <torch/arg.h>

#include <sit/data/dataset.h>

namespace sit::data {

struct LatentShardsOptions {
  /* implicit */ LatentShardsOptions(std::string root) : root_(std::move(root)) {}
  TORCH_ARG(std::string, root);
  // Labels must lie in [0, num_classes) (ImageNet: 1000).
  TORCH_ARG(int64_t, num_classes) = 1000;
  // For posteriors_ shards: x = mean + std * eps with eps drawn from the example's generator;
  // false gives the mean.
  TORCH_ARG(bool, sample_posterior) = true;
};

// Every shard is read into memory at construction (n * C * H * W * 4 bytes per shard, twice that
// for posteriors), and shapes and labels are checked there.
class LatentShards : public Dataset {
 public:
  explicit LatentShards(LatentShardsOptions options);

  size_t size() const override { return static_cast<size_t>(offsets_.back()); }
  Example get(size_t index, std::mt19937_64& rng) const override;
  int64_t num_classes() const override { return options_.num_classes(); }
  std::array<int64_t, 3> shape() const override { return shape_; }

  // Whether the shards hold (mean, std) posteriors rather than latents.
  bool has_posteriors() const { return has_posteriors_; }
  size_t num_shards() const { return data_.size(); }

 private:
  LatentShardsOptions options_;
  bool has_posteriors_ = false;
  std::array<int64_t, 3> shape_{};
  std::vector<torch::Tensor> data_;    // per shard (n, C or 2C, H, W)
  std::vector<torch::Tensor> labels_;  // per shard (n,) int64
  std::vector<int64_t> offsets_{0};    // first global index of each shard, then the total
};

}  // namespace sit::data
