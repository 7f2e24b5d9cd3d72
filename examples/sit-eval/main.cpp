// sit-eval: the quick start's quality metric, until a full evaluation lands.
//
//   sit-eval train-classifier --out classifier.safetensors [--seed 0 --epochs 4 --threads 2]
//   sit-eval score --classifier classifier.safetensors --samples samples.npz \
//       [--reference x_ref.npy --candidate x.npy] [--json score.json]
//
// train-classifier fits a small CNN to the Fashion-MNIST train split and reports its accuracy on
// the test split. score gives the class accuracy of the samples' images (the ADM .npz of
// sit-sample --out-npz: arr_0 uint8 (N, H, W, C), arr_1 int64 labels), the Fréchet distance of
// their classifier features to the test split's, and the relative L2 distance ||C - R|| / ||R||
// of two sample arrays drawn from the same noise (sit-sample --out-npy).

#include <sit/data/fashion_mnist.h>
#include <sit/eval/classifier.h>
#include <sit/eval/frechet.h>
#include <sit/io/npy.h>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
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

int score(const EvalParams& p) {
  sit::examples::apply_runtime(p.runtime);
  nlohmann::json out;
  if (!p.samples.empty()) {
    auto classifier = eval::load_classifier(p.classifier);
    auto [images, labels] = read_samples(p.samples, classifier->options);
    const auto test = fashion_mnist(p, false);
    const auto sampled = eval::classify(classifier, images);
    const double accuracy = eval::accuracy(sampled.logits, labels);
    const double fd = eval::frechet_distance(eval::gaussian_statistics(sampled.features),
                                             eval::gaussian_statistics(eval::classify(classifier, test.images()).features));
    fmt::print("{}: {} samples, class accuracy {:.2f}%, feature FD {:.4f} (to the {} test images)\n", p.samples,
               images.size(0), 100 * accuracy, fd, test.size());
    out.update({{"samples", p.samples}, {"num_samples", images.size(0)}, {"accuracy", accuracy}, {"fd", fd}});
  }
  if (!p.reference.empty()) {
    int64_t compared = 0;
    const double distance = relative_l2(p.reference, p.candidate, compared);
    fmt::print("{}: relative L2 {:.6f} to {} (first {} samples)\n", p.candidate, distance, p.reference, compared);
    out.update({{"reference", p.reference}, {"candidate", p.candidate}, {"relative_l2", distance},
                {"relative_l2_samples", compared}});
  }
  if (!p.json.empty()) {
    std::ofstream file(p.json);
    if (!(file << out.dump(2) << "\n")) throw std::runtime_error("--json " + p.json + ": cannot write it");
  }
  return 0;
}

void add_common_options(CLI::App& app, EvalParams& p) {
  app.add_option("--data-path", p.data_path, "Fashion-MNIST IDX folder (default: Debian's dataset-fashion-mnist)");
  sit::examples::bind(app, p.runtime, {"precision", "device"});
}

}  // namespace

int main(int argc, char** argv) {
  EvalParams p;
  CLI::App app{"sit-eval: a Fashion-MNIST classifier, and sample scores in its label and feature spaces"};
  app.require_subcommand(1);

  auto* train = app.add_subcommand("train-classifier", "train the classifier on the train split, test it");
  add_common_options(*train, p);
  train->add_option("--out", p.out, "classifier weights (.safetensors)")->required();
  train->add_option_function<uint64_t>("--seed", [&](uint64_t v) { p.train.seed(v); }, "initial weights and batch order")
      ->default_str(std::to_string(p.train.seed()));
  train->add_option_function<int64_t>("--epochs", [&](int64_t v) { p.train.epochs(v); }, "passes over the train split")
      ->check(CLI::PositiveNumber)
      ->default_str(std::to_string(p.train.epochs()));

  auto* score_app = app.add_subcommand("score", "class accuracy, feature FD and relative L2 of samples");
  add_common_options(*score_app, p);
  auto* classifier = score_app->add_option("--classifier", p.classifier, "weights from train-classifier");
  auto* samples = score_app->add_option("--samples", p.samples, "ADM .npz: arr_0 uint8 (N, H, W, C), arr_1 labels");
  auto* reference = score_app->add_option("--reference", p.reference, ".npy samples to measure --candidate against");
  auto* candidate = score_app->add_option("--candidate", p.candidate, ".npy samples from the reference's noise");
  score_app->add_option("--json", p.json, "also write the scores here");
  samples->needs(classifier);
  reference->needs(candidate);
  candidate->needs(reference);

  CLI11_PARSE(app, argc, argv);
  return sit::examples::run_main("sit-eval", [&] {
    if (train->parsed()) return train_classifier(p);
    if (p.samples.empty() && p.reference.empty()) {
      throw ConfigError("nothing to score: give --samples (with --classifier) or --reference and --candidate");
    }
    return score(p);
  });
}
