#include "eval/inception_blocks.h"

namespace sit::eval::detail {

namespace F = torch::nn::functional;

namespace {

// 3x3 average pooling, stride 1, padding 1, the padding left out of the mean (count_include_pad false).
torch::Tensor average_pool_3x3(const torch::Tensor& x) {
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(false));
}

torch::Tensor max_pool_3x3_stride_2(const torch::Tensor& x) {
  return F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2));
}

}  // namespace

BasicConv2dImpl::BasicConv2dImpl(const BasicConv2dOptions& o) {
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in(), o.out(), o.kernel())
                                                       .stride(o.stride())
                                                       .padding(o.padding())
                                                       .bias(false)));
  bn = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(o.out()).eps(1e-3)));
}

torch::Tensor BasicConv2dImpl::forward(const torch::Tensor& x) { return torch::relu(bn(conv(x))); }

InceptionAImpl::InceptionAImpl(int64_t in, int64_t pool_features) {
  using O = BasicConv2dOptions;
  branch1x1 = register_module("branch1x1", BasicConv2d(O(in, 64, 1)));
  branch5x5_1 = register_module("branch5x5_1", BasicConv2d(O(in, 48, 1)));
  branch5x5_2 = register_module("branch5x5_2", BasicConv2d(O(48, 64, 5).padding(2)));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", BasicConv2d(O(in, 64, 1)));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", BasicConv2d(O(64, 96, 3).padding(1)));
  branch3x3dbl_3 = register_module("branch3x3dbl_3", BasicConv2d(O(96, 96, 3).padding(1)));
  branch_pool = register_module("branch_pool", BasicConv2d(O(in, pool_features, 1)));
}

torch::Tensor InceptionAImpl::forward(const torch::Tensor& x) {
  return torch::cat({branch1x1(x), branch5x5_2(branch5x5_1(x)), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                     branch_pool(average_pool_3x3(x))},
                    1);
}

InceptionBImpl::InceptionBImpl(int64_t in) {
  using O = BasicConv2dOptions;
  branch3x3 = register_module("branch3x3", BasicConv2d(O(in, 384, 3).stride(2)));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", BasicConv2d(O(in, 64, 1)));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", BasicConv2d(O(64, 96, 3).padding(1)));
  branch3x3dbl_3 = register_module("branch3x3dbl_3", BasicConv2d(O(96, 96, 3).stride(2)));
}

torch::Tensor InceptionBImpl::forward(const torch::Tensor& x) {
  return torch::cat(
      {branch3x3(x), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))), max_pool_3x3_stride_2(x)}, 1);
}

InceptionCImpl::InceptionCImpl(int64_t in, int64_t c7) {
  using O = BasicConv2dOptions;
  branch1x1 = register_module("branch1x1", BasicConv2d(O(in, 192, 1)));
  branch7x7_1 = register_module("branch7x7_1", BasicConv2d(O(in, c7, 1)));
  branch7x7_2 = register_module("branch7x7_2", BasicConv2d(O(c7, c7, {1, 7}).padding({0, 3})));
  branch7x7_3 = register_module("branch7x7_3", BasicConv2d(O(c7, 192, {7, 1}).padding({3, 0})));
  branch7x7dbl_1 = register_module("branch7x7dbl_1", BasicConv2d(O(in, c7, 1)));
  branch7x7dbl_2 = register_module("branch7x7dbl_2", BasicConv2d(O(c7, c7, {7, 1}).padding({3, 0})));
  branch7x7dbl_3 = register_module("branch7x7dbl_3", BasicConv2d(O(c7, c7, {1, 7}).padding({0, 3})));
  branch7x7dbl_4 = register_module("branch7x7dbl_4", BasicConv2d(O(c7, c7, {7, 1}).padding({3, 0})));
  branch7x7dbl_5 = register_module("branch7x7dbl_5", BasicConv2d(O(c7, 192, {1, 7}).padding({0, 3})));
  branch_pool = register_module("branch_pool", BasicConv2d(O(in, 192, 1)));
}

torch::Tensor InceptionCImpl::forward(const torch::Tensor& x) {
  auto branch7x7 = branch7x7_3(branch7x7_2(branch7x7_1(x)));
  auto branch7x7dbl = branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(branch7x7dbl_1(x)))));
  return torch::cat({branch1x1(x), branch7x7, branch7x7dbl, branch_pool(average_pool_3x3(x))}, 1);
}

InceptionDImpl::InceptionDImpl(int64_t in) {
  using O = BasicConv2dOptions;
  branch3x3_1 = register_module("branch3x3_1", BasicConv2d(O(in, 192, 1)));
  branch3x3_2 = register_module("branch3x3_2", BasicConv2d(O(192, 320, 3).stride(2)));
  branch7x7x3_1 = register_module("branch7x7x3_1", BasicConv2d(O(in, 192, 1)));
  branch7x7x3_2 = register_module("branch7x7x3_2", BasicConv2d(O(192, 192, {1, 7}).padding({0, 3})));
  branch7x7x3_3 = register_module("branch7x7x3_3", BasicConv2d(O(192, 192, {7, 1}).padding({3, 0})));
  branch7x7x3_4 = register_module("branch7x7x3_4", BasicConv2d(O(192, 192, 3).stride(2)));
}

torch::Tensor InceptionDImpl::forward(const torch::Tensor& x) {
  auto branch7x7x3 = branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x))));
  return torch::cat({branch3x3_2(branch3x3_1(x)), branch7x7x3, max_pool_3x3_stride_2(x)}, 1);
}

InceptionEImpl::InceptionEImpl(int64_t in, PoolKind pool_) : pool(pool_) {
  using O = BasicConv2dOptions;
  branch1x1 = register_module("branch1x1", BasicConv2d(O(in, 320, 1)));
  branch3x3_1 = register_module("branch3x3_1", BasicConv2d(O(in, 384, 1)));
  branch3x3_2a = register_module("branch3x3_2a", BasicConv2d(O(384, 384, {1, 3}).padding({0, 1})));
  branch3x3_2b = register_module("branch3x3_2b", BasicConv2d(O(384, 384, {3, 1}).padding({1, 0})));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", BasicConv2d(O(in, 448, 1)));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", BasicConv2d(O(448, 384, 3).padding(1)));
  branch3x3dbl_3a = register_module("branch3x3dbl_3a", BasicConv2d(O(384, 384, {1, 3}).padding({0, 1})));
  branch3x3dbl_3b = register_module("branch3x3dbl_3b", BasicConv2d(O(384, 384, {3, 1}).padding({1, 0})));
  branch_pool = register_module("branch_pool", BasicConv2d(O(in, 192, 1)));
}

torch::Tensor InceptionEImpl::forward(const torch::Tensor& x) {
  auto branch3x3 = branch3x3_1(x);
  branch3x3 = torch::cat({branch3x3_2a(branch3x3), branch3x3_2b(branch3x3)}, 1);
  auto branch3x3dbl = branch3x3dbl_2(branch3x3dbl_1(x));
  branch3x3dbl = torch::cat({branch3x3dbl_3a(branch3x3dbl), branch3x3dbl_3b(branch3x3dbl)}, 1);
  // The graph's mixed_10 pools with a max where mixed_9 averages (pytorch-fid's FIDInceptionE_2).
  auto pooled = pool == PoolKind::Average ? average_pool_3x3(x)
                                          : F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
  return torch::cat({branch1x1(x), branch3x3, branch3x3dbl, branch_pool(pooled)}, 1);
}

}  // namespace sit::eval::detail
