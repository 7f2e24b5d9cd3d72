#include <sit/error.h>
#include <sit/io/state_dict.h>
#include <sit/repa/dinov2.h>

#include <cmath>
#include <filesystem>

namespace sit::repa {

Dinov2Options dinov2_preset(const std::string& size) {
  if (size == "s") return Dinov2Options().embed_dim(384).depth(12).num_heads(6);
  if (size == "b") return Dinov2Options().embed_dim(768).depth(12).num_heads(12);
  TORCH_CHECK(size == "l", "dinov2_preset: 's', 'b' or 'l', but got '", size, "'");
  return Dinov2Options().embed_dim(1024).depth(24).num_heads(16);
}

LayerScaleImpl::LayerScaleImpl(int64_t dim_) : dim(dim_) { reset(); }

void LayerScaleImpl::reset() { gamma = register_parameter("gamma", torch::ones({dim})); }

Dinov2BlockImpl::Dinov2BlockImpl(int64_t dim_, int64_t num_heads_, double mlp_ratio_)
    : dim(dim_), num_heads(num_heads_), mlp_ratio(mlp_ratio_) {
  reset();
}

void Dinov2BlockImpl::reset() {
  auto layer_norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)); };
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
  norm1 = register_module("norm1", layer_norm());
  attn = register_module("attn", nn::Attention(nn::AttentionOptions(dim, num_heads)));
  ls1 = register_module("ls1", LayerScale(dim));
  norm2 = register_module("norm2", layer_norm());
  mlp = register_module("mlp", torch::nn::Sequential(torch::OrderedDict<std::string, torch::nn::AnyModule>(
                                   {{"fc1", torch::nn::AnyModule(torch::nn::Linear(dim, hidden))},
                                    {"act", torch::nn::AnyModule(torch::nn::GELU())},
                                    {"fc2", torch::nn::AnyModule(torch::nn::Linear(hidden, dim))}})));
  ls2 = register_module("ls2", LayerScale(dim));
}

torch::Tensor Dinov2BlockImpl::forward(const torch::Tensor& x) {
  auto h = x + ls1(attn(norm1(x)));  // (N, T, D)
  return h + ls2(mlp->forward(norm2(h)));
}

Dinov2Impl::Dinov2Impl(Dinov2Options options_) : options(std::move(options_)) { reset(); }

void Dinov2Impl::reset() {
  const int64_t D = options.embed_dim();
  patch_embed = register_module(
      "patch_embed", nn::PatchEmbed(nn::PatchEmbedOptions(options.img_size(), options.patch_size(), 3, D)));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, D}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, patch_embed->num_patches() + 1, D}));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth(); ++i) {
    blocks->push_back(Dinov2Block(D, options.num_heads(), options.mlp_ratio()));
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(1e-6)));
  mask_token = register_parameter("mask_token", torch::zeros({1, D}));
}

void Dinov2Impl::pretty_print(std::ostream& stream) const {
  stream << "sit::repa::Dinov2(img_size=" << options.img_size() << ", patch_size=" << options.patch_size()
         << ", embed_dim=" << options.embed_dim() << ", depth=" << options.depth()
         << ", num_heads=" << options.num_heads() << ")";
}

void Dinov2Impl::resample_pos_embed(int64_t grid) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard no_grad;
  const int64_t D = options.embed_dim(), old_grid = options.img_size() / options.patch_size();
  auto patch_pos = pos_embed.slice(1, 1).reshape({1, old_grid, old_grid, D}).permute({0, 3, 1, 2});
  patch_pos = F::interpolate(patch_pos.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                                 .size(std::vector<int64_t>{grid, grid})
                                                                 .mode(torch::kBicubic)
                                                                 .align_corners(false)
                                                                 .antialias(true));  // (1, D, grid, grid)
  auto resampled = torch::cat({pos_embed.slice(1, 0, 1), patch_pos.permute({0, 2, 3, 1}).reshape({1, -1, D})}, 1);
  pos_embed.set_data(resampled.to(pos_embed.dtype()).contiguous());  // (1, 1 + grid^2, D)
  options.img_size(grid * options.patch_size());
  patch_embed->options.img_size(options.img_size());
}

torch::Tensor Dinov2Impl::forward_features(const torch::Tensor& x) {
  auto tokens = patch_embed(x);                                                  // (N, T, D)
  tokens = torch::cat({cls_token.expand({x.size(0), -1, -1}), tokens}, 1) + pos_embed;  // (N, 1 + T, D)
  for (const auto& block : *blocks) tokens = block->as<Dinov2Block>()->forward(tokens);
  return norm(tokens).slice(1, 1);  // (N, T, D)
}

torch::Tensor dinov2_preprocess(const torch::Tensor& images, int64_t side) {
  namespace F = torch::nn::functional;
  TORCH_CHECK(images.dim() == 4 && (images.size(1) == 3 || images.size(1) == 1),
              "dinov2_preprocess: images (N, 3 or 1, H, W), but got ", images.sizes());
  auto x = images.size(1) == 1 ? images.expand({-1, 3, -1, -1}) : images;
  const auto options = torch::TensorOptions().dtype(x.dtype()).device(x.device());
  const auto mean = torch::tensor({0.485, 0.456, 0.406}, options).view({1, 3, 1, 1});  // timm's IMAGENET_DEFAULT_*
  const auto std = torch::tensor({0.229, 0.224, 0.225}, options).view({1, 3, 1, 1});
  x = ((x + 1) / 2 - mean) / std;  // (x / 255 - mean) / std of the raw pixels x = 127.5 (images + 1)
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{side, side})
                               .mode(torch::kBicubic)
                               .align_corners(false));  // (N, 3, side, side)
}

std::string dinov2_url(const std::string& size) {
  return "https://dl.fbaipublicfiles.com/dinov2/dinov2_vit" + size + "14/dinov2_vit" + size + "14_pretrain.pth";
}

Dinov2 load_dinov2(const std::string& path, const std::string& size) {
  if (!std::filesystem::exists(path)) {
    throw FileError(path, "no such file (DINOv2's weights, published by its authors at " + dinov2_url(size) + ")");
  }
  auto state_dict = io::read_state_dict(path);
  auto options = dinov2_preset(size);
  const auto* pos_embed = state_dict.find("pos_embed");
  if (pos_embed != nullptr && pos_embed->dim() == 3) {  // the file's positions (518 / 14 = 37 per side for hub's)
    const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(pos_embed->size(1) - 1))));
    options.img_size(grid * options.patch_size());
  }
  Dinov2 model(options);
  io::load_state_dict(*model, state_dict, path);
  model->eval();
  for (auto& p : model->parameters()) p.requires_grad_(false);
  return model;
}

}  // namespace sit::repa
