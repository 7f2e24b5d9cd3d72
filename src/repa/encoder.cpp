#include <sit/config/error.h>
#include <sit/error.h>
#include <sit/eval/classifier.h>
#include <sit/repa/dinov2.h>
#include <sit/repa/encoder.h>

#include <filesystem>
#include <utility>

namespace sit::repa {

namespace {

namespace F = torch::nn::functional;

std::string shape_text(const std::array<int64_t, 3>& shape) {
  return std::to_string(shape[0]) + "x" + std::to_string(shape[1]) + "x" + std::to_string(shape[2]);
}

// The project's Fashion-MNIST classifier: its (N, 2c, H / 2, W / 2) spatial features averaged over
// (H / 2) / grid blocks.
class ClassifierEncoder : public Encoder {
 public:
  ClassifierEncoder(const std::string& path, const std::array<int64_t, 3>& image_shape, int64_t grid)
      : classifier_(eval::load_classifier(path)) {
    const auto& o = classifier_->options;
    if (image_shape != std::array<int64_t, 3>{o.in_channels(), o.image_size(), o.image_size()}) {
      throw config::ConfigError(config::setting("repa_encoder") + " classifier:" + path + ": the classifier takes " +
                                shape_text({o.in_channels(), o.image_size(), o.image_size()}) +
                                " images, the data is " + shape_text(image_shape));
    }
    const int64_t side = o.image_size() / 2;
    if (side % grid != 0) {
      throw config::ConfigError(config::setting("repa_encoder") + " classifier:" + path + ": its " + std::to_string(side) +
                                "x" + std::to_string(side) + " feature grid cannot be averaged to the SiT's " +
                                std::to_string(grid) + "x" + std::to_string(grid) +
                                " token grid (it needs a patch size whose grid divides " + std::to_string(side) + ")");
    }
    block_ = side / grid;
    classifier_->eval();
    for (auto& p : classifier_->parameters()) p.requires_grad_(false);
  }

  torch::Tensor encode(const torch::Tensor& images) override {
    torch::NoGradGuard no_grad;
    auto h = classifier_->spatial_features(images);                         // (N, 2c, H / 2, W / 2)
    if (block_ > 1) h = F::avg_pool2d(h, F::AvgPool2dFuncOptions(block_));  // (N, 2c, grid, grid)
    return h.flatten(2).transpose(1, 2);                                    // (N, grid^2, 2c)
  }

  int64_t embed_dim() const override { return 2 * classifier_->options.channels(); }
  void to(const torch::Device& device) override { classifier_->to(device); }

 private:
  eval::Classifier classifier_;
  int64_t block_ = 1;
};

// DINOv2 as REPA's train.py runs it: its input resized to patch_size * grid pixels, so that its
// patch tokens fall on the SiT's token grid (224 = 14 * 16 for 256x256 images, latents of 32x32
// and SiT's patch 2), its position embedding resampled to that grid once.
class Dinov2Encoder : public Encoder {
 public:
  Dinov2Encoder(const std::string& path, const std::string& size, int64_t grid)
      : model_(load_dinov2(path, size)) {
    model_->resample_pos_embed(grid);
  }

  torch::Tensor encode(const torch::Tensor& images) override {
    torch::NoGradGuard no_grad;
    return model_->forward_features(dinov2_preprocess(images, model_->options.img_size()));  // (N, grid^2, D)
  }

  int64_t embed_dim() const override { return model_->options.embed_dim(); }
  void to(const torch::Device& device) override { model_->to(device); }

 private:
  Dinov2 model_;
};

// A repa_encoder setting "kind:FILE" split, the kind checked.
std::pair<std::string, std::string> kind_and_path(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), path = colon == std::string::npos ? "" : spec.substr(colon + 1);
  const bool known = kind == "classifier" || kind == "dinov2-vit-s" || kind == "dinov2-vit-b" || kind == "dinov2-vit-l";
  if (!known || path.empty()) {
    throw config::ConfigError(config::setting("repa_encoder") + " '" + spec +
                              "': expected classifier:FILE, dinov2-vit-s:FILE, dinov2-vit-b:FILE or dinov2-vit-l:FILE");
  }
  return {kind, path};
}

}  // namespace

void check_encoder_spec(const std::string& spec) {
  const auto [kind, path] = kind_and_path(spec);
  if (std::filesystem::exists(path)) return;
  const std::string problem = kind == "classifier"
                                  ? "make it with sit-eval train-classifier --out " + path
                                  : "DINOv2's authors publish it at " + dinov2_url(kind.substr(kind.size() - 1));
  throw config::ConfigError(config::setting("repa_encoder") + " " + spec + ": no such file (" + problem + ")");
}

std::unique_ptr<Encoder> load_encoder(const std::string& spec, std::array<int64_t, 3> image_shape, int64_t grid) {
  check_encoder_spec(spec);
  const auto [kind, path] = kind_and_path(spec);
  if (kind == "classifier") return std::make_unique<ClassifierEncoder>(path, image_shape, grid);
  if ((image_shape[0] != 3 && image_shape[0] != 1) || image_shape[1] != image_shape[2]) {
    throw config::ConfigError(config::setting("repa_encoder") + " " + spec +
                              ": DINOv2 takes square RGB (or grey) images, the data is " + shape_text(image_shape));
  }
  return std::make_unique<Dinov2Encoder>(path, kind.substr(kind.size() - 1), grid);
}

}  // namespace sit::repa
