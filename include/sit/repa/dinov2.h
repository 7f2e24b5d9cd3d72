#pragma once
// DINOv2's ViT (facebookresearch/dinov2, dinov2/models/vision_transformer.py) as torch.hub's
// dinov2_vit{s,b,l}14 build it (patch 14, 518x518 positions, layer scale, MLP FFN, no registers),
// run as REPA's train.py runs it: the features of the patch tokens, x_norm_patchtokens.

#include <sit/nn/attention.h>
#include <sit/nn/patch_embed.h>

#include <torch/torch.h>

#include <string>

namespace sit::repa {

/// Defaults are dinov2_vitb14's.
struct Dinov2Options {
  TORCH_ARG(int64_t, img_size) = 518;  // the input side; pos_embed has (img_size / patch_size)^2 + 1 rows
  TORCH_ARG(int64_t, patch_size) = 14;
  TORCH_ARG(int64_t, embed_dim) = 768;
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, num_heads) = 12;
  TORCH_ARG(double, mlp_ratio) = 4.0;
};

/// The options of DINOv2 ViT-S/14, B/14 or L/14 ("s", "b", "l": REPA's enc-type letters).
Dinov2Options dinov2_preset(const std::string& size);

/// LayerScale: x * gamma, gamma: (D,).
class LayerScaleImpl : public torch::nn::Cloneable<LayerScaleImpl> {
 public:
  explicit LayerScaleImpl(int64_t dim);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }

  int64_t dim;
  torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

/// x + ls1(attn(norm1(x))), then + ls2(mlp(norm2(x))); exact GELU, LayerNorm eps 1e-6.
class Dinov2BlockImpl : public torch::nn::Cloneable<Dinov2BlockImpl> {
 public:
  Dinov2BlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio);
  void reset() override;
  /// x: (N, T, D) -> (N, T, D).
  torch::Tensor forward(const torch::Tensor& x);

  int64_t dim, num_heads;
  double mlp_ratio;
  torch::nn::LayerNorm norm1{nullptr};
  nn::Attention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  torch::nn::Sequential mlp{nullptr};  // fc1, GELU, fc2 under those names
  LayerScale ls1{nullptr}, ls2{nullptr};
};
TORCH_MODULE(Dinov2Block);

class Dinov2Impl : public torch::nn::Cloneable<Dinov2Impl> {
 public:
  explicit Dinov2Impl(Dinov2Options options = {});
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// pos_embed's patch positions resampled to grid x grid as REPA's load_encoders does (timm's
  /// resample_abs_pos_embed: bicubic, antialiased, the class position kept), and img_size set to
  /// grid * patch_size, so that DINOv2's interpolate_pos_encoding has nothing left to do.
  void resample_pos_embed(int64_t grid);

  /// x: (N, 3, img_size, img_size), normalised as ImageNet -> (N, T, D) x_norm_patchtokens.
  torch::Tensor forward_features(const torch::Tensor& x);

  Dinov2Options options;
  nn::PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token;   // (1, 1, D)
  torch::Tensor pos_embed;   // (1, 1 + T, D)
  torch::Tensor mask_token;  // (1, D), in the file; unused without masks
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(Dinov2);

/// REPA's preprocess_raw_image for DINOv2: images (N, C, H, W) in the model's data space [-1, 1]
/// (C = 3, or 1 repeated to RGB) -> x / 255 of the raw pixels, normalised by ImageNet's mean and
/// std, then resized bicubic (align_corners false, no antialias) to side x side; normalising
/// first and resizing second, as train.py does. REPA's side is 224 for 256x256 images.
torch::Tensor dinov2_preprocess(const torch::Tensor& images, int64_t side);

/// Where DINOv2's authors publish dinov2_vit{size}14_pretrain.pth (size "s", "b" or "l").
std::string dinov2_url(const std::string& size);

/// DINOv2 ViT-`size`/14 (size "s", "b" or "l") from `path`, the official
/// dinov2_vit{size}14_pretrain.pth (its own key names), in eval mode without gradients. Throws
/// FileError naming the file (and, when it is missing, where its authors publish it).
Dinov2 load_dinov2(const std::string& path, const std::string& size);

}  // namespace sit::repa
