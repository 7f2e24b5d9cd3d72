#pragma once
// The frozen teachers of REPA: a network that turns the training images into one token per SiT
// token, whose features the SiT's projected hidden tokens are aligned with (repa.h).

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>

namespace sit::repa {

/// A frozen representation network, made for one image shape and one SiT token grid.
class Encoder {
 public:
  virtual ~Encoder() = default;
  /// images: (N, C, H, W) in the model's data space ([-1, 1], as the data loader gives them) ->
  /// (N, grid * grid, embed_dim()), row-major over the grid as the SiT's tokens; no gradients.
  virtual torch::Tensor encode(const torch::Tensor& images) = 0;
  /// The tokens' width (REPA's z_dim).
  virtual int64_t embed_dim() const = 0;
  virtual void to(const torch::Device& device) = 0;
};

/// Checks a repa_encoder setting without loading anything: a kind load_encoder knows and a file
/// that exists. Throws config::ConfigError naming the setting (for a missing file, how to make it
/// or where its authors publish it).
void check_encoder_spec(const std::string& spec);

/// The encoder a repa_encoder setting names, for images of `image_shape` (C, H, W) and a SiT
/// token grid of `grid` x `grid`:
///  - "classifier:FILE": sit-eval train-classifier's network, its spatial features before the
///    second pooling (ClassifierImpl::spatial_features) averaged over blocks of the token grid;
///  - "dinov2-vit-s|b|l:FILE": DINOv2 ViT-S/B/L/14 from its dinov2_vit*14_pretrain.pth, as REPA
///    runs it (dinov2.h).
/// Throws config::ConfigError as check_encoder_spec does, or for a grid or image shape the
/// encoder cannot take; FileError for a file it cannot read.
std::unique_ptr<Encoder> load_encoder(const std::string& spec, std::array<int64_t, 3> image_shape, int64_t grid);

}  // namespace sit::repa
