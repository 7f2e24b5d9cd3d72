#include <sit/nn/patch_embed.h>

namespace sit::nn {

PatchEmbedImpl::PatchEmbedImpl(PatchEmbedOptions options_) : options(std::move(options_)) {
  reset();
}

void PatchEmbedImpl::reset() {
  TORCH_CHECK(options.patch_size() > 0 && options.img_size() % options.patch_size() == 0,
              "PatchEmbed: img_size must be a multiple of patch_size, but got img_size ",
              options.img_size(), " and patch_size ", options.patch_size());
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_chans(), options.embed_dim(),
                                                         options.patch_size())
                                    .stride(options.patch_size())
                                    .bias(options.bias())));
}

void PatchEmbedImpl::pretty_print(std::ostream& stream) const {
  stream << "sit::PatchEmbed(img_size=" << options.img_size()
         << ", patch_size=" << options.patch_size() << ", in_chans=" << options.in_chans()
         << ", embed_dim=" << options.embed_dim() << ")";
}

int64_t PatchEmbedImpl::num_patches() const {
  int64_t grid = options.img_size() / options.patch_size();
  return grid * grid;
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_chans() &&
                  x.size(2) == options.img_size() && x.size(3) == options.img_size(),
              "PatchEmbed: expected input (N, ", options.in_chans(), ", ", options.img_size(), ", ",
              options.img_size(), "), but got ", x.sizes());
  return proj->forward(x).flatten(2).transpose(1, 2);  // (N, D, h, w) -> (N, T, D)
}

}  // namespace sit::nn
