#pragma once
// The FID Inception-v3: the 2015-12-05 TensorFlow graph behind FID, sFID and the Inception Score
// of the ADM evaluator, in pytorch-fid's PyTorch port (torchvision's Inception3 layout with its
// FID blocks, 1008 classes). It loads pytorch-fid's pt_inception-2015-12-05-6726825d.pth by the
// names in that file.

#include <sit/eval/inception_input.h>

#include <torch/torch.h>

#include <memory>
#include <string>

namespace sit::eval {

/// Where pytorch-fid publishes the weights (named in the error for a missing file).
constexpr const char* kFidInceptionUrl =
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth";

/// What the metrics read off the network, float32 on the input's device.
struct InceptionFeatures {
  torch::Tensor pool_3;   // (N, 2048) the graph's pool_3: FID, precision and recall
  torch::Tensor logits;   // (N, 1008) pool_3 W without the bias, the graph's softmax/logits/MatMul: IS
  torch::Tensor spatial;  // (N, 2023) mixed_6/conv (Mixed_6d.branch1x1), first 7 channels, (17, 17, 7)
                          // flattened in TensorFlow's NHWC order: sFID
};

class FidInceptionV3Impl : public torch::nn::Module {
 public:
  FidInceptionV3Impl();
  /// x: (N, 3, 299, 299) float32 as inception_input makes it.
  InceptionFeatures forward(const torch::Tensor& x);

 private:
  struct Layers;
  std::shared_ptr<Layers> layers_;
};
TORCH_MODULE(FidInceptionV3);

/// The network in eval mode with the weights of `path` (pytorch-fid's .pth, or any torch.save or
/// safetensors state dict with its names). A missing file is an error naming the file to fetch.
FidInceptionV3 load_fid_inception(const std::string& path);

/// Features of uint8 images (N, H, W, C), C = 1 or 3, computed in batches of `batch_size` on the
/// network's device; returned on the CPU.
InceptionFeatures inception_features(FidInceptionV3& network, const torch::Tensor& images, InputMode mode,
                                     int64_t batch_size);

}  // namespace sit::eval
