#pragma once
// Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of 10 kinds of clothing, 60000 train and
// 10000 test, read from the IDX files of Debian's dataset-fashion-mnist.

#include <string>

#include <torch/arg.h>

#include <sit/data/dataset.h>

namespace sit::data {

struct FashionMNISTOptions {
  // Holds {train,t10k}-{images-idx3,labels-idx1}-ubyte, each gzipped (.gz) or plain.
  TORCH_ARG(std::string, root) = "/usr/share/datasets/fashion-mnist";
  // The 60000-image train split, or the 10000-image t10k split.
  TORCH_ARG(bool, train) = true;
  // RandomHorizontalFlip(p = 0.5), drawn from each example's generator.
  TORCH_ARG(bool, random_flip) = false;
};

// x: (1, 28, 28) in [-1, 1] (ToTensor + Normalize(0.5, 0.5)); y in [0, 10). The decoded split is
// held in memory as uint8 (47 MB for train).
class FashionMNIST : public Dataset {
 public:
  explicit FashionMNIST(FashionMNISTOptions options = {});

  size_t size() const override;
  Example get(size_t index, std::mt19937_64& rng) const override;
  int64_t num_classes() const override { return 10; }
  std::array<int64_t, 3> shape() const override { return {1, 28, 28}; }

  const torch::Tensor& images() const { return images_; }  // (N, 28, 28) uint8
  const torch::Tensor& labels() const { return labels_; }  // (N,) int64

 private:
  FashionMNISTOptions options_;
  torch::Tensor images_;
  torch::Tensor labels_;
};

}  // namespace sit::data
