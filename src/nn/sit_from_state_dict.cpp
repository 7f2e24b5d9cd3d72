#include <sit/nn/sit_from_state_dict.h>
#include <sit/error.h>
#include <sit/nn/swiglu_ffn.h>

#include <cmath>
#include <stdexcept>

namespace sit::nn {

namespace {

const torch::Tensor& require(const io::StateDict& sd, const std::string& key, int64_t dim,
                             const std::string& source) {
  const torch::Tensor* tensor = sd.find(key);
  if (tensor == nullptr) {
    throw FileError(source, "not a SiT checkpoint: key '" + key + "' is missing");
  }
  if (tensor->dim() != dim) {
    throw FileError(source, "'" + key + "' has " + std::to_string(tensor->dim()) +
                             " dimensions, a SiT has " + std::to_string(dim));
  }
  // The model is sized from these tensors' shapes, so each must hold its elements: a view with
  // overlapping strides (stride 0) can claim any size over a few stored values.
  const uint64_t stored = tensor->storage().nbytes() / tensor->element_size();
  if (static_cast<uint64_t>(tensor->numel()) > stored) {
    throw FileError(source, "'" + key + "' has " + std::to_string(tensor->numel()) +
                             " elements over a storage of " + std::to_string(stored) + " (overlapping strides)");
  }
  return *tensor;
}

int64_t preset_num_heads(int64_t hidden_size) {
  switch (hidden_size) {
    case 1152: return 16;  // XL
    case 1024: return 16;  // L
    case 768: return 12;   // B
    case 384: return 6;    // S
    default: return 0;
  }
}

std::string shape_text(torch::IntArrayRef sizes) {
  std::string text = "[";
  for (size_t i = 0; i < sizes.size(); ++i) text += (i > 0 ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

// The model is built from the inferred options before the weights are checked against it, so the
// tensors whose sizes set what it allocates are checked first: every block's attention and MLP
// weights, the label table and the output layer must have the shapes the hidden size D implies.
// Each parameter the model allocates is then at most twice one of these tensors (256 x D for the
// timestep MLP's first layer), and their elements are in the checkpoint's own storages.
void require_shape(const io::StateDict& sd, const std::string& key, std::vector<int64_t> expected,
                   const std::string& source) {
  const torch::Tensor& tensor = require(sd, key, static_cast<int64_t>(expected.size()), source);
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] >= 0 && tensor.size(static_cast<int64_t>(i)) != expected[i]) {
      for (size_t j = 0; j < expected.size(); ++j) {
        if (expected[j] < 0) expected[j] = tensor.size(static_cast<int64_t>(j));
      }
      throw FileError(source, "'" + key + "' has shape " + shape_text(tensor.sizes()) +
                               ", the hidden size of x_embedder.proj.weight implies " + shape_text(expected));
    }
  }
}

// Blocks 0, 1, ... while block i's attention weights are present. mlp_key: "mlp.fc1.weight"
// (mlp_rows = int(mlp_ratio D)) or "mlp.w12.weight" (SwiGLU: 2 H).
int64_t count_blocks(const io::StateDict& sd, int64_t D, const std::string& mlp_key, int64_t mlp_rows,
                     const std::string& source) {
  int64_t depth = 0;
  for (;; ++depth) {
    const std::string block = "blocks." + std::to_string(depth) + ".";
    if (depth > 0 && !sd.contains(block + "attn.qkv.weight")) return depth;
    require_shape(sd, block + "attn.qkv.weight", {3 * D, D}, source);
    require_shape(sd, block + mlp_key, {mlp_rows, D}, source);
  }
}

// An mlp_ratio whose Mlp width int(mlp_ratio D) gives SwiGLU's hidden size H = int(2/3 width):
// a width that D divides where one does (4 D for LightningDiT's), else the smallest.
double swiglu_mlp_ratio(int64_t D, int64_t H, const std::string& source) {
  std::optional<double> found;
  for (int64_t width = (3 * H) / 2 - 1; width <= (3 * H) / 2 + 2; ++width) {
    const double ratio = static_cast<double>(width) / static_cast<double>(D);
    if (width <= 0 || swiglu_hidden_features(static_cast<int64_t>(static_cast<double>(D) * ratio)) != H) continue;
    if (width % D == 0) return ratio;
    if (!found) found = ratio;
  }
  if (!found) {
    throw FileError(source, "blocks.0.mlp.w12.weight's SwiGLU width " + std::to_string(H) +
                                 " is int(2/3 int(mlp_ratio " + std::to_string(D) + ")) for no mlp_ratio");
  }
  return *found;
}

}  // namespace

SiTOptions infer_sit_options(const io::StateDict& sd, const ArchitectureHints& hints,
                             const std::string& source) {
  const auto& proj = require(sd, "x_embedder.proj.weight", 4, source);  // (D, C, p, p)
  const auto& pos_embed = require(sd, "pos_embed", 3, source);           // (1, T, D)
  const auto& table = require(sd, "y_embedder.embedding_table.weight", 2, source);
  const auto& linear = require(sd, "final_layer.linear.weight", 2, source);  // (p^2 out, D)
  // LightningDiT's block options show in the keys: SwiGLU's w12, RMSNorm's weights, the q/k
  // norms, the rotary tables.
  const bool use_swiglu = sd.contains("blocks.0.mlp.w12.weight");
  const std::string mlp_key = use_swiglu ? "blocks.0.mlp.w12.weight" : "blocks.0.mlp.fc1.weight";
  const auto& fc1 = require(sd, mlp_key, 2, source);  // (ratio D, D), or SwiGLU's (2 H, D)
  int64_t D = proj.size(0), C = proj.size(1), p = proj.size(2);
  if (D == 0 || C == 0 || p == 0 || proj.size(3) != p) {
    throw FileError(source, "x_embedder.proj.weight has shape " + shape_text(proj.sizes()) +
                             ", expected (hidden size, channels, patch, patch), all positive");
  }
  require_shape(sd, "pos_embed", {1, -1, D}, source);
  require_shape(sd, "y_embedder.embedding_table.weight", {-1, D}, source);
  require_shape(sd, "final_layer.linear.weight", {-1, D}, source);
  const int64_t depth = count_blocks(sd, D, mlp_key.substr(std::string("blocks.0.").size()), fc1.size(0), source);
  auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(pos_embed.size(1)))));
  if (grid * grid != pos_embed.size(1)) {
    throw FileError(source, "pos_embed has " + std::to_string(pos_embed.size(1)) +
                             " tokens, not a square grid");
  }
  int64_t out_channels = linear.size(0) / (p * p);
  if (out_channels != C && out_channels != 2 * C) {
    throw FileError(source, "final_layer.linear.weight has " +
                             std::to_string(linear.size(0)) + " rows, expected " +
                             std::to_string(p * p * C) + " or " + std::to_string(2 * p * p * C));
  }
  int64_t num_heads = hints.num_heads().value_or(preset_num_heads(D));
  if (sd.contains("feat_rope.freqs_cos") && !hints.num_heads()) {
    const int64_t head_dim = require(sd, "feat_rope.freqs_cos", 2, source).size(1);  // (T, head_dim)
    if (head_dim > 0 && D % head_dim == 0) num_heads = D / head_dim;
  }
  if (num_heads == 0) {
    throw FileError(source, "hidden size " + std::to_string(D) +
                             " is not a preset's; give the number of heads (--num-heads)");
  }
  const double mlp_ratio = use_swiglu ? swiglu_mlp_ratio(D, fc1.size(0) / 2, source)
                                      : static_cast<double>(fc1.size(0)) / static_cast<double>(D);
  int64_t rows = table.size(0);
  if (rows == 0) throw FileError(source, "y_embedder.embedding_table.weight has no rows");
  bool null_row = hints.num_classes().has_value() ? rows == *hints.num_classes() + 1 : true;
  int64_t num_classes = null_row ? rows - 1 : rows;
  if (hints.num_classes().has_value() && num_classes != *hints.num_classes()) {
    throw FileError(source, "the label table has " + std::to_string(rows) +
                             " rows, which fits neither " + std::to_string(*hints.num_classes()) +
                             " classes nor " + std::to_string(*hints.num_classes()) +
                             " classes plus the null row");
  }
  return SiTOptions()
      .input_size(grid * p)
      .patch_size(p)
      .in_channels(C)
      .hidden_size(D)
      .depth(depth)
      .num_heads(num_heads)
      .mlp_ratio(mlp_ratio)
      .class_dropout_prob(null_row ? hints.class_dropout_prob() : 0.0)
      .num_classes(num_classes)
      .learn_sigma(out_channels == 2 * C)
      .meanflow(sd.contains("h_embedder.mlp.0.weight"))
      .use_rmsnorm(sd.contains("blocks.0.norm1.weight"))
      .use_swiglu(use_swiglu)
      .use_rope(sd.contains("feat_rope.freqs_cos"))
      .use_qknorm(sd.contains("blocks.0.attn.q_norm.weight"));
}

io::StateDict without_projectors(const io::StateDict& state_dict) {
  io::StateDict sit;
  for (const auto& item : state_dict) {
    if (item.key().rfind("projectors.", 0) != 0) sit.insert(item.key(), item.value());
  }
  return sit;
}

SiT load_sit(const std::string& path, const ArchitectureHints& hints,
             const io::ReadOptions& read_options) {
  auto sd = without_projectors(io::read_state_dict(path, read_options));
  SiT model(infer_sit_options(sd, hints, path));
  io::load_state_dict(*model, sd, path);
  model->eval();
  return model;
}

}  // namespace sit::nn
