#pragma once
// LabelEmbedder: class labels to vectors, with label dropout for classifier-free guidance.

#include <torch/torch.h>

namespace sit::nn {

struct LabelEmbedderOptions {
  LabelEmbedderOptions(int64_t num_classes, int64_t hidden_size, double dropout_prob)
      : num_classes_(num_classes), hidden_size_(hidden_size), dropout_prob_(dropout_prob) {}
  TORCH_ARG(int64_t, num_classes);
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(double, dropout_prob);
};

/// An embedding table of num_classes rows, plus the "null" row num_classes (the unconditional
/// label of CFG) when dropout_prob > 0.
class LabelEmbedderImpl : public torch::nn::Cloneable<LabelEmbedderImpl> {
 public:
  explicit LabelEmbedderImpl(LabelEmbedderOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// Replaces labels by the null label: where force_drop_ids == 1 when given, else each with
  /// probability dropout_prob (drawn from the default generator).
  torch::Tensor token_drop(const torch::Tensor& labels,
                           const c10::optional<torch::Tensor>& force_drop_ids = c10::nullopt) const;

  /// labels: (N,) int64 -> (N, hidden_size). Labels are dropped when training with
  /// dropout_prob > 0, or where force_drop_ids says so.
  torch::Tensor forward(const torch::Tensor& labels, bool train,
                        const c10::optional<torch::Tensor>& force_drop_ids = c10::nullopt);

  LabelEmbedderOptions options;
  torch::nn::Embedding embedding_table{nullptr};
};
TORCH_MODULE(LabelEmbedder);

}  // namespace sit::nn
