#pragma once
// A small Fashion-MNIST classifier, trained by the project itself, that scores samples: its labels
// give the class accuracy of class-conditional samples, its penultimate features the space in
// which sample and data statistics are compared (eval/frechet.h), as Inception-v3 does for FID.

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace sit::eval {

/// Defaults are the quick start's data: one-channel 28x28 images, 10 classes.
struct ClassifierOptions {
  TORCH_ARG(int64_t, in_channels) = 1;
  TORCH_ARG(int64_t, image_size) = 28;  // divisible by 4 (two 2x2 poolings)
  TORCH_ARG(int64_t, channels) = 16;    // of the first conv block; the second has twice as many
  TORCH_ARG(int64_t, feature_dim) = 128;
  TORCH_ARG(int64_t, num_classes) = 10;
};

/// Two conv blocks (3x3 conv, batch norm, ReLU, 2x2 max pool), a ReLU linear layer to the
/// features and a linear head to the logits.
class ClassifierImpl : public torch::nn::Cloneable<ClassifierImpl> {
 public:
  explicit ClassifierImpl(ClassifierOptions options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// PyTorch's default initialisation (uniform in +-1/sqrt(fan_in) for conv and linear weights
  /// and biases; unit scale and zero shift for batch norm) drawn from `generator`, so that a seed
  /// alone fixes the weights.
  void reset_parameters(torch::Generator generator);

  /// x: (N, C, H, W) in [-1, 1] -> (N, 2 channels, H / 2, W / 2), the second conv block's
  /// activations before its pooling (REPA's classifier teacher, repa/encoder.h).
  torch::Tensor spatial_features(const torch::Tensor& x);

  /// x: (N, C, H, W) in [-1, 1] -> (N, feature_dim), the penultimate activations.
  torch::Tensor features(const torch::Tensor& x);

  /// x: (N, C, H, W) in [-1, 1] -> (N, num_classes) logits.
  torch::Tensor forward(const torch::Tensor& x);

  ClassifierOptions options;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d norm1{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  torch::nn::BatchNorm2d norm2{nullptr};
  torch::nn::Linear fc{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Classifier);

/// uint8 images (N, H, W) or (N, H, W, C), as the IDX files and the ADM .npz hold them ->
/// (N, C, H, W) float32 in [-1, 1], as sit-train feeds them to the model (x / 127.5 - 1).
torch::Tensor images_to_input(const torch::Tensor& images);

struct ClassifierTrainOptions {
  TORCH_ARG(uint64_t, seed) = 0;  // initial weights and batch order
  TORCH_ARG(int64_t, epochs) = 3;
  TORCH_ARG(int64_t, batch_size) = 128;
  TORCH_ARG(double, lr) = 2e-3;  // AdamW, decayed linearly to 0 over the run
  TORCH_ARG(double, weight_decay) = 1e-4;
};

/// Trains a classifier from scratch on uint8 images (N, H, W) with int64 labels (N,). Calls
/// `on_epoch(epoch, mean loss)` after each epoch. Deterministic for a seed and a thread count.
Classifier train_classifier(const torch::Tensor& images, const torch::Tensor& labels,
                            const ClassifierOptions& options, const ClassifierTrainOptions& train,
                            const std::function<void(int64_t, double)>& on_epoch = {});

/// The classifier (put in eval mode) on uint8 images (N, H, W[, C]), in batches, without grad.
struct ClassifierOutputs {
  torch::Tensor logits;    // (N, num_classes) float32
  torch::Tensor features;  // (N, feature_dim) float32
};
ClassifierOutputs classify(Classifier& classifier, const torch::Tensor& images, int64_t batch_size = 500);

/// The fraction of rows of `logits` (N, K) whose arg max is `labels` (N,).
double accuracy(const torch::Tensor& logits, const torch::Tensor& labels);

/// Writes the weights as safetensors, the options (and `metadata`) in its header.
void save_classifier(Classifier& classifier, const std::string& path,
                     std::map<std::string, std::string> metadata = {});

/// Reads what save_classifier wrote; throws std::runtime_error("<path>: <problem>").
Classifier load_classifier(const std::string& path);

}  // namespace sit::eval
