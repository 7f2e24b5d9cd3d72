// sit-eval: sample quality. The ADM evaluator's metrics on the FID Inception-v3, and the quick
// start's own Fashion-MNIST classifier.
//
//   sit-eval stats --inception pt_inception.pth --images ref.npz|folder --out ref_stats.npz
//   sit-eval compare --inception pt_inception.pth --ref ref.npz --samples samples.npz [--json F]
//   sit-eval features --inception pt_inception.pth --images samples.npz --out-npz features.npz
//   sit-eval train-classifier --out classifier.safetensors [--seed 0 --epochs 4 --threads 2]
//   sit-eval score --classifier classifier.safetensors --samples samples.npz \
//       [--reference x_ref.npy --candidate x.npy] [--json score.json]
//
// stats writes a reference's statistics in the layout of ADM's reference batches (plus its pool_3
// features and input mode); compare prints FID, sFID, Inception Score, precision and recall of
// samples (ADM's .npz, arr_0) against a reference (images, statistics or both); features writes
// pool_3 (N, 2048), logits (N, 1008) and spatial (N, 2023) as float32.
// train-classifier fits a small CNN to the Fashion-MNIST train split and reports its accuracy on
// the test split. score gives the class accuracy of the samples' images (the ADM .npz of
// sit-sample --out-npz: arr_0 uint8 (N, H, W, C), arr_1 int64 labels), the Fréchet distance of
// their classifier features to the test split's, and the relative L2 distance ||C - R|| / ||R||
// of two sample arrays drawn from the same noise (sit-sample --out-npy).

#include <sit/data/fashion_mnist.h>
#include <sit/eval/classifier.h>
#include <sit/eval/frechet.h>
#include <sit/eval/inception.h>
#include <sit/eval/inception_config.h>
#include <sit/eval/scores.h>
#include <sit/eval/statistics_file.h>
#include <sit/image/codec.h>
#include <sit/io/npy.h>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "common.h"

namespace {

namespace eval = sit::eval;
using sit::config::ConfigError;

struct EvalParams {
  std::string data_path;  // empty: Debian's dataset-fashion-mnist
  sit::nn::RuntimeConfig runtime;
  // train-classifier
  std::string out;
  eval::ClassifierTrainOptions train;
  // score
  std::string classifier;
  std::string samples;
  std::string reference;
  std::string candidate;
  std::string json;
  // stats, compare, features
  eval::InceptionConfig inception;
  int64_t batch_size = 50;
  std::string images;
  std::string ref;
  std::string out_npz;
};

sit::data::FashionMNIST fashion_mnist(const EvalParams& p, bool train) {
  sit::data::FashionMNISTOptions options;
  if (!p.data_path.empty()) options.root(p.data_path);
  return sit::data::FashionMNIST(options.train(train));
}

int train_classifier(const EvalParams& p) {
  sit::examples::apply_runtime(p.runtime);
  const auto train = fashion_mnist(p, true), test = fashion_mnist(p, false);
  const auto start = std::chrono::steady_clock::now();
  auto classifier = eval::train_classifier(
      train.images(), train.labels(), eval::ClassifierOptions(), p.train, [&](int64_t epoch, double loss) {
        std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        fmt::print("epoch {}/{}: train loss {:.4f} ({:.0f} s)\n", epoch + 1, p.train.epochs(), loss, elapsed.count());
        std::fflush(stdout);  // progress shows in a log file too
      });
  const double test_accuracy = eval::accuracy(eval::classify(classifier, test.images()).logits, test.labels());
  eval::save_classifier(classifier, p.out,
                        {{"test_accuracy", fmt::format("{:.4f}", test_accuracy)},
                         {"seed", std::to_string(p.train.seed())},
                         {"epochs", std::to_string(p.train.epochs())}});
  fmt::print("test accuracy {:.2f}% ({} images); wrote {}\n", 100 * test_accuracy, test.size(), p.out);
  return 0;
}

// arr_0 uint8 (N, H, W, C) and arr_1 int64 (N,) of an ADM .npz.
std::pair<torch::Tensor, torch::Tensor> read_samples(const std::string& path, const eval::ClassifierOptions& options) {
  auto arrays = sit::io::read_npz(path);
  if (!arrays.contains("arr_0") || !arrays.contains("arr_1")) {
    throw std::invalid_argument(path + ": needs arr_0 (images) and arr_1 (labels), as sit-sample --out-npz writes");
  }
  auto images = arrays["arr_0"], labels = arrays["arr_1"];
  const std::vector<int64_t> image_shape = {options.image_size(), options.image_size(), options.in_channels()};
  if (images.scalar_type() != torch::kUInt8 || images.dim() != 4 || images.sizes().slice(1) != image_shape) {
    throw std::invalid_argument(fmt::format("{}: arr_0 is {} {}, the classifier takes uint8 (N, {}, {}, {})", path,
                                            c10::toString(images.scalar_type()), images.sizes(), image_shape[0],
                                            image_shape[1], image_shape[2]));
  }
  if (labels.dim() != 1 || labels.size(0) != images.size(0) || labels.is_floating_point() ||
      labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= options.num_classes()) {
    throw std::invalid_argument(fmt::format("{}: arr_1 must hold {} integer labels in [0, {}), but is {} {}", path,
                                            images.size(0), options.num_classes(),
                                            c10::toString(labels.scalar_type()), labels.sizes()));
  }
  return {images, labels.to(torch::kInt64)};
}

// ||C - R|| / ||R|| over the first R.size(0) samples of C (a reference may cover a prefix only).
double relative_l2(const std::string& reference_path, const std::string& candidate_path, int64_t& compared) {
  auto reference = sit::io::read_npy(reference_path), candidate = sit::io::read_npy(candidate_path);
  if (reference.dim() < 1 || candidate.dim() != reference.dim() || candidate.size(0) < reference.size(0) ||
      candidate.sizes().slice(1) != reference.sizes().slice(1)) {
    throw std::invalid_argument(fmt::format("{}: shape {} does not cover the reference {} of shape {}",
                                            candidate_path, candidate.sizes(), reference_path, reference.sizes()));
  }
  compared = reference.size(0);
  auto r = reference.to(torch::kFloat64), c = candidate.slice(0, 0, compared).to(torch::kFloat64);
  return ((c - r).norm() / r.norm()).item<double>();
}

void write_json(const std::string& path, const nlohmann::json& out) {
  std::ofstream file(path);
  if (!(file << out.dump(2) << "\n")) throw std::runtime_error("--json " + path + ": cannot write it");
}

int score(const EvalParams& p) {
  sit::examples::apply_runtime(p.runtime);
  nlohmann::json out;
  if (!p.samples.empty()) {
    auto classifier = eval::load_classifier(p.classifier);
    auto [images, labels] = read_samples(p.samples, classifier->options);
    const auto test = fashion_mnist(p, false);
    eval::Scores scores;
    eval::add_classifier_scores(scores, eval::classify(classifier, images), labels,
                                eval::gaussian_statistics(eval::classify(classifier, test.images()).features));
    fmt::print("{}: {} samples, class accuracy {:.2f}%, feature FD {:.4f} (to the {} test images)\n", p.samples,
               scores.samples, 100 * *scores.accuracy, *scores.classifier_fd, test.size());
    out.update({{"samples", p.samples},
                {"num_samples", scores.samples},
                {"accuracy", *scores.accuracy},
                {"fd", *scores.classifier_fd}});
  }
  if (!p.reference.empty()) {
    int64_t compared = 0;
    const double distance = relative_l2(p.reference, p.candidate, compared);
    fmt::print("{}: relative L2 {:.6f} to {} (first {} samples)\n", p.candidate, distance, p.reference, compared);
    out.update({{"reference", p.reference}, {"candidate", p.candidate}, {"relative_l2", distance},
                {"relative_l2_samples", compared}});
  }
  if (!p.json.empty()) write_json(p.json, out);
  return 0;
}

// arr_0 of an .npz's arrays (ADM's layout, what sit-sample --out-npz writes): uint8 (N, H, W, C).
torch::Tensor npz_images(const sit::io::NamedArrays& arrays, const std::string& path) {
  const auto* found = arrays.find("arr_0");
  if (found == nullptr) throw std::invalid_argument(path + ": no 'arr_0' array (the images, uint8 (N, H, W, C))");
  const auto& images = *found;
  if (images.scalar_type() != torch::kUInt8 || images.dim() != 4 || (images.size(3) != 1 && images.size(3) != 3) ||
      images.size(0) == 0) {
    throw std::invalid_argument(fmt::format("{}: arr_0 is {} {}, expected uint8 (N, H, W, C) with N >= 1, C = 1 or 3",
                                            path, c10::toString(images.scalar_type()), images.sizes()));
  }
  return images;
}

// Images as uint8 (N, H, W, C): arr_0 of an .npz, or the image files of a folder (sorted by name,
// all of one size, decoded as RGB).
torch::Tensor read_images(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::is_directory(path)) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(path)) {
      auto extension = entry.path().extension().string();
      std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
      const std::vector<std::string> known = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tga"};
      if (entry.is_regular_file() && std::count(known.begin(), known.end(), extension)) {
        files.push_back(entry.path().string());
      }
    }
    if (files.empty()) throw std::invalid_argument(path + ": no .png, .jpg, .jpeg, .bmp, .ppm, .pgm or .tga files");
    std::sort(files.begin(), files.end());
    std::vector<torch::Tensor> images;
    for (const auto& file : files) {
      images.push_back(sit::image::read_rgb(file));
      if (images.back().sizes() != images.front().sizes()) {
        throw std::invalid_argument(fmt::format("{}: {} is {}, but {} is {}: the images of a folder must share a size",
                                                path, file, images.back().sizes(), files.front(),
                                                images.front().sizes()));
      }
    }
    return torch::stack(images);
  }
  return npz_images(sit::io::read_npz(path), path);
}

eval::InceptionFeatures inception_features(const EvalParams& p, eval::FidInceptionV3& network,
                                           const torch::Tensor& images, const std::string& source) {
  const auto start = std::chrono::steady_clock::now();
  auto features = eval::inception_features(network, images, p.inception.input_mode, p.batch_size);
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  fmt::print("{}: Inception features of {} images {}x{} (input mode {}, {:.1f} s)\n", source, images.size(0),
             images.size(1), images.size(2), sit::config::enum_name(p.inception.input_mode), elapsed.count());
  std::fflush(stdout);
  return features;
}

eval::FidInceptionV3 inception_network(const EvalParams& p) {
  p.runtime.validate();
  p.inception.validate();
  sit::config::require(p.batch_size >= 1, "batch_size", std::to_string(p.batch_size), "must be 1 or more");
  const auto device = sit::examples::apply_runtime(p.runtime);
  auto network = eval::load_fid_inception(p.inception.inception);
  network->to(device);
  return network;
}

int stats(const EvalParams& p) {
  auto network = inception_network(p);
  const auto images = read_images(p.images);
  const auto statistics =
      eval::inception_statistics(inception_features(p, network, images, p.images), p.inception.input_mode);
  eval::write_statistics(p.out, statistics);
  fmt::print("wrote {} (mu, sigma, mu_s, sigma_s, pool_3 of {} images)\n", p.out, images.size(0));
  return 0;
}

int features(const EvalParams& p) {
  auto network = inception_network(p);
  const auto images = read_images(p.images);
  const auto features = inception_features(p, network, images, p.images);
  sit::io::NamedArrays arrays;
  arrays.insert("pool_3", features.pool_3);
  arrays.insert("logits", features.logits);
  arrays.insert("spatial", features.spatial);
  sit::io::write_npz(p.out_npz, arrays);
  fmt::print("wrote {} (pool_3, logits, spatial of {} images)\n", p.out_npz, images.size(0));
  return 0;
}

// The reference of compare: its statistics (from the file when it holds them, as ADM reads its
// reference batches) and its pool_3 features (the file's, or computed from its images) when known.
eval::InceptionStatistics reference_statistics(const EvalParams& p, eval::FidInceptionV3& network) {
  const auto arrays = sit::io::read_npz(p.ref);
  auto statistics = eval::read_statistics(arrays, p.ref);
  const auto mode = p.inception.input_mode;
  if (statistics) {
    eval::require_input_mode(*statistics, mode, "--ref " + p.ref);
    statistics->input_mode = mode;
  }
  if (arrays.contains("arr_0") && !(statistics && statistics->pool_3.defined())) {
    auto computed = eval::inception_statistics(inception_features(p, network, npz_images(arrays, p.ref), p.ref), mode);
    if (!statistics) return computed;
    statistics->pool_3 = computed.pool_3;
  }
  if (!statistics) {
    throw std::invalid_argument("--ref " + p.ref + ": holds neither images (arr_0) nor statistics (mu, sigma, mu_s, sigma_s)");
  }
  return *statistics;
}

int compare(const EvalParams& p) {
  auto network = inception_network(p);
  const auto images = read_images(p.samples);
  const auto reference = reference_statistics(p, network);
  eval::Scores scores;
  eval::add_inception_scores(scores, inception_features(p, network, images, p.samples), reference,
                             p.inception.input_mode);
  const std::string mode = sit::config::enum_name(p.inception.input_mode);
  nlohmann::json out = {{"fid", *scores.fid},
                        {"sfid", *scores.sfid},
                        {"inception_score", *scores.inception_score},
                        {"input_mode", mode},
                        {"num_samples", scores.samples},
                        {"samples", p.samples},
                        {"ref", p.ref}};
  fmt::print("FID {:.4f}  sFID {:.4f}  IS {:.4f}", *scores.fid, *scores.sfid, *scores.inception_score);
  if (scores.precision) {
    fmt::print("  precision {:.4f}  recall {:.4f}", *scores.precision, *scores.recall);
    out.update({{"precision", *scores.precision}, {"recall", *scores.recall}});
  } else {
    fmt::print("  precision and recall: n/a (--ref holds statistics without features)");
    out.update({{"precision", nullptr}, {"recall", nullptr}});
  }
  fmt::print("  ({} samples, input mode {})\n", scores.samples, mode);
  if (!p.json.empty()) write_json(p.json, out);
  return 0;
}

void add_common_options(CLI::App& app, EvalParams& p) {
  app.add_option("--data-path", p.data_path, "Fashion-MNIST IDX folder (default: Debian's dataset-fashion-mnist)");
  sit::examples::bind(app, p.runtime, {"precision", "device"});
}

}  // namespace

int main(int argc, char** argv) {
  EvalParams p;
  CLI::App app{"sit-eval: FID, sFID, IS, precision and recall on the FID Inception; the Fashion-MNIST classifier's scores"};
  app.require_subcommand(1);

  auto* train = app.add_subcommand("train-classifier", "train the classifier on the train split, test it");
  add_common_options(*train, p);
  train->add_option("--out", p.out, "classifier weights (.safetensors)")->required()->check(sit::examples::kOutputFile);
  train->add_option_function<uint64_t>("--seed", [&](uint64_t v) { p.train.seed(v); }, "initial weights and batch order")
      ->default_str(std::to_string(p.train.seed()));
  train->add_option_function<int64_t>("--epochs", [&](int64_t v) { p.train.epochs(v); }, "passes over the train split")
      ->check(sit::examples::kPositive)
      ->default_str(std::to_string(p.train.epochs()));

  auto* score_app = app.add_subcommand("score", "class accuracy, feature FD and relative L2 of samples");
  add_common_options(*score_app, p);
  auto* classifier = score_app->add_option("--classifier", p.classifier, "weights from train-classifier");
  auto* samples = score_app->add_option("--samples", p.samples, "ADM .npz: arr_0 uint8 (N, H, W, C), arr_1 labels");
  auto* reference = score_app->add_option("--reference", p.reference, ".npy samples to measure --candidate against");
  auto* candidate = score_app->add_option("--candidate", p.candidate, ".npy samples from the reference's noise");
  score_app->add_option("--json", p.json, "also write the scores here")->check(sit::examples::kOutputFile);
  samples->needs(classifier);
  reference->needs(candidate);
  candidate->needs(reference);

  // The Inception's subcommands: --device too (features are float32 on the CPU or CUDA; no --precision).
  auto add_inception_options = [&](CLI::App* command) {
    sit::examples::bind(*command, p.runtime, {"precision"});
    sit::examples::bind(*command, p.inception);
    sit::examples::bind_fields(*command, p, [](auto& params, auto&& field) {
      field("batch_size", params.batch_size, "images per Inception forward");
    });
  };
  auto* stats_app = app.add_subcommand("stats", "a reference's statistics (ADM's reference batch layout)");
  add_inception_options(stats_app);
  stats_app->add_option("--images", p.images, "ADM .npz (arr_0 uint8 (N, H, W, C)) or a folder of images")->required();
  stats_app->add_option("--out", p.out, "statistics .npz to write")->required()->check(sit::examples::kOutputFile);

  auto* compare_app = app.add_subcommand("compare", "FID, sFID, IS, precision and recall of samples against a reference");
  add_inception_options(compare_app);
  compare_app->add_option("--ref", p.ref, "reference .npz: images (arr_0), statistics (mu, sigma, mu_s, sigma_s) or both")
      ->required();
  compare_app->add_option("--samples", p.samples, "ADM .npz of samples (arr_0 uint8 (N, H, W, C)) or a folder")
      ->required();
  compare_app->add_option("--json", p.json, "also write the scores here")->check(sit::examples::kOutputFile);

  auto* features_app = app.add_subcommand("features", "pool_3, logits and spatial features of images");
  add_inception_options(features_app);
  features_app->add_option("--images", p.images, "ADM .npz (arr_0 uint8 (N, H, W, C)) or a folder of images")
      ->required();
  features_app->add_option("--out-npz", p.out_npz, "features .npz to write")->required()->check(sit::examples::kOutputFile);

  return sit::examples::run_main("sit-eval", app, argc, argv, [&] {
    if (train->parsed()) return train_classifier(p);
    if (stats_app->parsed()) return stats(p);
    if (compare_app->parsed()) return compare(p);
    if (features_app->parsed()) return features(p);
    if (p.samples.empty() && p.reference.empty()) {
      throw ConfigError("nothing to score: give --samples (with --classifier) or --reference and --candidate");
    }
    return score(p);
  });
}
