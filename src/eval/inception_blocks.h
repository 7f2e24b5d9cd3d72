#pragma once
// The blocks of the FID Inception-v3 (internal to inception.cpp): torchvision's Inception3 layout
// with pytorch-fid's FID variants of the Mixed blocks, module names as in its weight file.
//
//   BasicConv2d  conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU
//   InceptionA   Mixed_5b..5d   branches 1x1 | 5x5 | double 3x3 | avg pool (padding not counted)
//   InceptionB   Mixed_6a       stride-2 reduction: 3x3 | double 3x3 | max pool
//   InceptionC   Mixed_6b..6e   branches 1x1 | 1x7,7x1 | double 7x1,1x7 | avg pool (padding not counted)
//   InceptionD   Mixed_7a       stride-2 reduction: 3x3 | 1x7,7x1,3x3 | max pool
//   InceptionE   Mixed_7b, 7c   branches 1x1 | 3x3 split | double 3x3 split | avg pool (7b) or max pool (7c)

#include <torch/torch.h>

namespace sit::eval::detail {

struct BasicConv2dOptions {
  BasicConv2dOptions(int64_t in, int64_t out, torch::ExpandingArray<2> kernel) : in_(in), out_(out), kernel_(kernel) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(torch::ExpandingArray<2>, kernel);  // (height, width), as stride and padding
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  TORCH_ARG(torch::ExpandingArray<2>, padding) = 0;
};

class BasicConv2dImpl : public torch::nn::Module {
 public:
  explicit BasicConv2dImpl(const BasicConv2dOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(BasicConv2d);

class InceptionAImpl : public torch::nn::Module {
 public:
  InceptionAImpl(int64_t in, int64_t pool_features);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, 224 + pool_features, H, W)

  BasicConv2d branch1x1{nullptr}, branch5x5_1{nullptr}, branch5x5_2{nullptr};
  BasicConv2d branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr}, branch3x3dbl_3{nullptr}, branch_pool{nullptr};
};
TORCH_MODULE(InceptionA);

class InceptionBImpl : public torch::nn::Module {
 public:
  explicit InceptionBImpl(int64_t in);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, 480 + in, (H - 3) / 2 + 1, ...)

  BasicConv2d branch3x3{nullptr}, branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr}, branch3x3dbl_3{nullptr};
};
TORCH_MODULE(InceptionB);

class InceptionCImpl : public torch::nn::Module {
 public:
  InceptionCImpl(int64_t in, int64_t channels_7x7);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, 768, H, W)

  BasicConv2d branch1x1{nullptr}, branch7x7_1{nullptr}, branch7x7_2{nullptr}, branch7x7_3{nullptr};
  BasicConv2d branch7x7dbl_1{nullptr}, branch7x7dbl_2{nullptr}, branch7x7dbl_3{nullptr}, branch7x7dbl_4{nullptr},
      branch7x7dbl_5{nullptr}, branch_pool{nullptr};
};
TORCH_MODULE(InceptionC);

class InceptionDImpl : public torch::nn::Module {
 public:
  explicit InceptionDImpl(int64_t in);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, 512 + in, (H - 3) / 2 + 1, ...)

  BasicConv2d branch3x3_1{nullptr}, branch3x3_2{nullptr};
  BasicConv2d branch7x7x3_1{nullptr}, branch7x7x3_2{nullptr}, branch7x7x3_3{nullptr}, branch7x7x3_4{nullptr};
};
TORCH_MODULE(InceptionD);

enum class PoolKind { Average, Max };

class InceptionEImpl : public torch::nn::Module {
 public:
  InceptionEImpl(int64_t in, PoolKind pool);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, 2048, H, W)

  PoolKind pool;
  BasicConv2d branch1x1{nullptr}, branch3x3_1{nullptr}, branch3x3_2a{nullptr}, branch3x3_2b{nullptr};
  BasicConv2d branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr}, branch3x3dbl_3a{nullptr}, branch3x3dbl_3b{nullptr},
      branch_pool{nullptr};
};
TORCH_MODULE(InceptionE);

}  // namespace sit::eval::detail
