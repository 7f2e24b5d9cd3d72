#include <sit/eval/inception.h>
#include <sit/config/error.h>
#include <sit/io/state_dict.h>

#include <filesystem>
#include <stdexcept>

#include "eval/inception_blocks.h"

namespace sit::eval {

namespace F = torch::nn::functional;
using detail::BasicConv2d;
using O = detail::BasicConv2dOptions;

struct FidInceptionV3Impl::Layers {
  BasicConv2d Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3;
  detail::InceptionA Mixed_5b, Mixed_5c, Mixed_5d;
  detail::InceptionB Mixed_6a;
  detail::InceptionC Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e;
  detail::InceptionD Mixed_7a;
  detail::InceptionE Mixed_7b, Mixed_7c;
  torch::nn::Linear fc;
};

FidInceptionV3Impl::FidInceptionV3Impl() {
  using detail::PoolKind;
  layers_ = std::make_shared<Layers>(Layers{
      register_module("Conv2d_1a_3x3", BasicConv2d(O(3, 32, 3).stride(2))),
      register_module("Conv2d_2a_3x3", BasicConv2d(O(32, 32, 3))),
      register_module("Conv2d_2b_3x3", BasicConv2d(O(32, 64, 3).padding(1))),
      register_module("Conv2d_3b_1x1", BasicConv2d(O(64, 80, 1))),
      register_module("Conv2d_4a_3x3", BasicConv2d(O(80, 192, 3))),
      register_module("Mixed_5b", detail::InceptionA(192, 32)),
      register_module("Mixed_5c", detail::InceptionA(256, 64)),
      register_module("Mixed_5d", detail::InceptionA(288, 64)),
      register_module("Mixed_6a", detail::InceptionB(288)),
      register_module("Mixed_6b", detail::InceptionC(768, 128)),
      register_module("Mixed_6c", detail::InceptionC(768, 160)),
      register_module("Mixed_6d", detail::InceptionC(768, 160)),
      register_module("Mixed_6e", detail::InceptionC(768, 192)),
      register_module("Mixed_7a", detail::InceptionD(768)),
      register_module("Mixed_7b", detail::InceptionE(1280, PoolKind::Average)),
      register_module("Mixed_7c", detail::InceptionE(2048, PoolKind::Max)),
      register_module("fc", torch::nn::Linear(2048, 1008)),
  });
}

InceptionFeatures FidInceptionV3Impl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 3, "the Inception takes (N, 3, H, W), got ", x.sizes());
  const auto max_pool = F::MaxPool2dFuncOptions(3).stride(2);
  auto& l = *layers_;
  auto h = l.Conv2d_2b_3x3(l.Conv2d_2a_3x3(l.Conv2d_1a_3x3(x)));  // (N, 64, 147, 147)
  h = l.Conv2d_4a_3x3(l.Conv2d_3b_1x1(F::max_pool2d(h, max_pool)));  // (N, 192, 71, 71)
  h = l.Mixed_5d(l.Mixed_5c(l.Mixed_5b(F::max_pool2d(h, max_pool))));  // (N, 288, 35, 35)
  h = l.Mixed_6c(l.Mixed_6b(l.Mixed_6a(h)));  // (N, 768, 17, 17)
  // mixed_6/conv of the graph: Mixed_6d's 1x1 branch, its first 7 channels, in NHWC order.
  auto spatial = l.Mixed_6d->branch1x1(h).slice(1, 0, 7).permute({0, 2, 3, 1}).flatten(1);  // (N, 17 * 17 * 7)
  h = l.Mixed_7c(l.Mixed_7b(l.Mixed_7a(l.Mixed_6e(l.Mixed_6d(h)))));  // (N, 2048, 8, 8)
  auto pool_3 = h.mean({2, 3});  // (N, 2048)
  auto logits = pool_3.matmul(l.fc->weight.t());  // (N, 1008), no bias
  return {pool_3, logits, spatial};
}

FidInceptionV3 load_fid_inception(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw config::ConfigError(config::setting("inception") + " " + path +
                              ": no such file; the FID Inception weights are pytorch-fid's "
                              "pt_inception-2015-12-05-6726825d.pth, published at " +
                              kFidInceptionUrl);
  }
  FidInceptionV3 network;
  sit::io::load_state_dict(*network, sit::io::read_state_dict(path), path);
  network->eval();
  return network;
}

InceptionFeatures inception_features(FidInceptionV3& network, const torch::Tensor& images, InputMode mode,
                                     int64_t batch_size) {
  TORCH_CHECK(batch_size > 0, "batch size must be positive, got ", batch_size);
  const auto device = network->parameters().front().device();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> pool_3, logits, spatial;
  for (int64_t begin = 0; begin < images.size(0); begin += batch_size) {
    auto batch = images.slice(0, begin, std::min(begin + batch_size, images.size(0))).to(device);
    auto features = network->forward(inception_input(batch, mode));
    pool_3.push_back(features.pool_3.cpu());
    logits.push_back(features.logits.cpu());
    spatial.push_back(features.spatial.cpu());
  }
  if (pool_3.empty()) {
    return {torch::empty({0, 2048}), torch::empty({0, 1008}), torch::empty({0, 2023})};
  }
  return {torch::cat(pool_3), torch::cat(logits), torch::cat(spatial)};
}

}  // namespace sit::eval
