#pragma once
// PatchEmbed: the image (or latent) to a sequence of patch tokens (timm's PatchEmbed as SiT uses it).

#include <torch/torch.h>

namespace sit::nn {

struct PatchEmbedOptions {
  PatchEmbedOptions(int64_t img_size, int64_t patch_size, int64_t in_chans, int64_t embed_dim)
      : img_size_(img_size), patch_size_(patch_size), in_chans_(in_chans), embed_dim_(embed_dim) {}
  TORCH_ARG(int64_t, img_size);
  TORCH_ARG(int64_t, patch_size);
  TORCH_ARG(int64_t, in_chans);
  TORCH_ARG(int64_t, embed_dim);
  TORCH_ARG(bool, bias) = true;
};

/// Conv2d with kernel = stride = patch_size, flattened to tokens.
class PatchEmbedImpl : public torch::nn::Cloneable<PatchEmbedImpl> {
 public:
  explicit PatchEmbedImpl(PatchEmbedOptions options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x: (N, C, H, W) -> (N, T, D), T = (H / patch_size) * (W / patch_size).
  torch::Tensor forward(const torch::Tensor& x);
  int64_t num_patches() const;

  PatchEmbedOptions options;
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

}  // namespace sit::nn
