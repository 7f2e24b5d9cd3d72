#include <sit/pipeline/sample_evaluator.h>

#include <sit/config/error.h>
#include <sit/data/fashion_mnist.h>
#include <sit/image/quantize.h>

#include <string>

namespace sit::pipeline {

namespace {

// Rows [begin, end) of a (total, D) matrix whose other rows are 0, summed over the ranks: every
// rank ends with the whole matrix.
torch::Tensor gather_rows(distributed::ProcessGroup* group, const std::vector<std::pair<int64_t, torch::Tensor>>& parts,
                          int64_t total, int64_t dim, const torch::Device& device) {
  auto full = torch::zeros({total, dim}, torch::kFloat32);
  for (const auto& [begin, rows] : parts) full.slice(0, begin, begin + rows.size(0)).copy_(rows);
  if (group == nullptr) return full;
  auto on_device = full.to(device);
  group->all_reduce_sum({on_device});
  return on_device.cpu();
}

}  // namespace

SampleEvaluator::SampleEvaluator(const train::TrainConfig& config, std::array<int64_t, 3> shape, int64_t num_classes,
                                 torch::Device device, int64_t chunk)
    : config_(config.eval), device_(device), chunk_(chunk) {
  TORCH_CHECK(chunk > 0, "SampleEvaluator: chunk must be 1 or more, but got ", chunk);
  if (config.data.data == train::DataSource::Latents && !config.data.vae.given()) {
    throw config::ConfigError(config::setting("eval_every") + ": samples of a run on extracted latents need " + config::setting("vae") + " to be decoded into images");
  }
  const bool latent = config.data.data == train::DataSource::Latents;
  const int64_t channels = latent ? 3 : shape[0];
  const int64_t side = latent ? shape[1] * 8 : shape[1];
  if (!config_.inception.inception.empty()) {
    if (channels != 1 && channels != 3) {
      throw config::ConfigError(config::setting("inception") + ": the Inception takes 1 or 3 channels; this run's images have " +
                                std::to_string(channels));
    }
    inception_ = eval::load_fid_inception(config_.inception.inception);
    (*inception_)->to(device_);
    reference_ = eval::read_statistics(config_.eval_ref);
    if (!reference_) {
      throw config::ConfigError(config::setting("eval_ref") + " " + config_.eval_ref +
                                ": holds no statistics (mu, sigma, mu_s, sigma_s); make them with sit-eval stats");
    }
    eval::require_input_mode(*reference_, config_.inception.input_mode, config::setting("eval_ref") + " " + config_.eval_ref);
  }
  if (!config_.eval_classifier.empty()) {
    if (config.data.data != train::DataSource::FashionMNIST) {
      throw config::ConfigError(config::setting("eval_classifier") + " " + config_.eval_classifier +
                                ": the classifier scores Fashion-MNIST runs (its reference is the test split)");
    }
    classifier_ = eval::load_classifier(config_.eval_classifier);
    const auto& o = (*classifier_)->options;
    if (o.in_channels() != channels || o.image_size() != side || o.num_classes() != num_classes) {
      auto describe = [](int64_t side, int64_t channels, int64_t classes) {
        return std::to_string(side) + "x" + std::to_string(side) + "x" + std::to_string(channels) + " images of " +
               std::to_string(classes) + " classes";
      };
      throw config::ConfigError(config::setting("eval_classifier") + " " + config_.eval_classifier + ": it takes " +
                                describe(o.image_size(), o.in_channels(), o.num_classes()) + "; this run makes " +
                                describe(side, channels, num_classes));
    }
    data::FashionMNISTOptions options;
    if (!config.data.data_path.empty()) options.root(config.data.data_path);
    const data::FashionMNIST test(options.train(false));
    classifier_reference_ = eval::gaussian_statistics(eval::classify(*classifier_, test.images()).features);
  }
}

eval::Scores SampleEvaluator::evaluate(const Generator& generator, distributed::ProcessGroup* group) {
  const auto& m = generator.architecture();
  const int64_t total = config_.eval_samples;
  const int64_t rank = group ? group->rank() : 0, world = group ? group->world_size() : 1;
  std::vector<std::pair<int64_t, torch::Tensor>> pool_3, logits, spatial, class_logits, class_features;
  // Chunk i (labels cycling through the classes) belongs to rank i % world.
  for (int64_t begin = 0, chunk = 0; begin < total; begin += chunk_, ++chunk) {
    if (chunk % world != rank) continue;
    const int64_t n = std::min(chunk_, total - begin);
    auto y = torch::arange(begin, begin + n, torch::kInt64) % m.num_classes();
    const auto images = image::to_uint8_nhwc(generator.generate(y, Draws().seed(kNoiseSeed).first(begin)).samples);
    if (inception_) {
      auto f = eval::inception_features(*inception_, images, config_.inception.input_mode, chunk_);
      pool_3.emplace_back(begin, f.pool_3);
      logits.emplace_back(begin, f.logits);
      spatial.emplace_back(begin, f.spatial);
    }
    if (classifier_) {
      auto c = eval::classify(*classifier_, images);
      class_logits.emplace_back(begin, c.logits);
      class_features.emplace_back(begin, c.features);
    }
  }
  eval::Scores scores;
  if (inception_) {
    const eval::InceptionFeatures features{gather_rows(group, pool_3, total, 2048, device_),
                                           gather_rows(group, logits, total, 1008, device_),
                                           gather_rows(group, spatial, total, 2023, device_)};
    eval::add_inception_scores(scores, features, *reference_, config_.inception.input_mode);
  }
  if (classifier_) {
    const auto& o = (*classifier_)->options;
    const eval::ClassifierOutputs outputs{gather_rows(group, class_logits, total, o.num_classes(), device_),
                                          gather_rows(group, class_features, total, o.feature_dim(), device_)};
    const auto labels = torch::arange(total, torch::kInt64) % m.num_classes();
    eval::add_classifier_scores(scores, outputs, labels, classifier_reference_);
  }
  return scores;
}

}  // namespace sit::pipeline
