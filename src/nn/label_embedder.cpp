#include <sit/nn/label_embedder.h>

namespace sit::nn {

LabelEmbedderImpl::LabelEmbedderImpl(LabelEmbedderOptions options_)
    : options(std::move(options_)) {
  reset();
}

void LabelEmbedderImpl::reset() {
  int64_t use_cfg_embedding = options.dropout_prob() > 0 ? 1 : 0;
  embedding_table = register_module(
      "embedding_table",
      torch::nn::Embedding(options.num_classes() + use_cfg_embedding, options.hidden_size()));
}

void LabelEmbedderImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::LabelEmbedder(num_classes=" << options.num_classes()
         << ", hidden_size=" << options.hidden_size()
         << ", dropout_prob=" << options.dropout_prob() << ")";
}

torch::Tensor LabelEmbedderImpl::token_drop(const torch::Tensor& labels,
                                            const c10::optional<torch::Tensor>& force_drop_ids) const {
  torch::Tensor drop_ids;
  if (force_drop_ids.has_value()) {
    drop_ids = force_drop_ids->eq(1);
  } else {
    drop_ids = torch::rand({labels.size(0)}, labels.options().dtype(torch::kFloat32)) <
               options.dropout_prob();
  }
  return torch::where(drop_ids, torch::full_like(labels, options.num_classes()), labels);
}

torch::Tensor LabelEmbedderImpl::forward(const torch::Tensor& labels, bool train,
                                         const c10::optional<torch::Tensor>& force_drop_ids) {
  bool use_dropout = options.dropout_prob() > 0;
  auto ids = labels;
  if ((train && use_dropout) || force_drop_ids.has_value()) {
    ids = token_drop(labels, force_drop_ids);
  }
  return embedding_table->forward(ids);
}

}  // namespace sit::nn
