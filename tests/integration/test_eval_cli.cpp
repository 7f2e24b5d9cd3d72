// sit-eval stats / compare / features end to end on pytorch-fid's network with random weights
// (tests/data/eval/inception_random.pt): the numbers it prints and writes against the library's
// own computation, a set against itself, and the one-line errors; sit-train --eval-every.

#include <sit/eval/classifier.h>
#include <sit/eval/frechet.h>
#include <sit/eval/inception.h>
#include <sit/eval/inception_score.h>
#include <sit/eval/precision_recall.h>
#include <sit/io/npy.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "support/catch_torch.h"
#include "support/cli.h"
#include "support/files.h"
#include "support/machine.h"
#include "support/process.h"
#include "support/skip.h"
#include "support/tiny_run.h"

namespace eval_cli {

using namespace sit::test;

const std::string kEval = std::string(SIT_EVAL_BIN);
const std::string kInception = std::string(SIT_TEST_DATA_DIR) + "/eval/inception_random.pt";
std::string with_network(const std::string& command) {
  return kEval + " " + command + " --inception " + kInception + " --threads 2 --batch-size 3";
}

std::string write_images(const TempDir& dir, const std::string& name, const torch::Tensor& images) {
  sit::io::NamedArrays arrays;
  arrays.insert("arr_0", images);
  const auto path = dir.file(name);
  sit::io::write_npz(path, arrays);
  return path;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace eval_cli

using eval_cli::with_network;
using sit::test::check_error;

TEST_CASE("sit-eval compare: a set against its own statistics, and against other images", "[cli][eval]") {
  sit::test::TempDir dir;
  torch::manual_seed(0);
  const auto samples = torch::randint(0, 256, {5, 28, 28, 1}, torch::kUInt8);
  const auto others = torch::randint(0, 256, {4, 32, 32, 3}, torch::kUInt8);
  const auto samples_npz = eval_cli::write_images(dir, "samples.npz", samples);
  const auto others_npz = eval_cli::write_images(dir, "others.npz", others);

  auto out = sit::test::run_program(with_network("stats --images " + samples_npz + " --out " + dir.file("stats.npz")), dir);
  INFO(out.text);
  REQUIRE(out.status == 0);
  out = sit::test::run_program(
      with_network("compare --ref " + dir.file("stats.npz") + " --samples " + samples_npz + " --json " + dir.file("self.json")),
      dir);
  INFO(out.text);
  REQUIRE(out.status == 0);
  const auto self = eval_cli::read_json(dir.file("self.json"));
  CHECK(std::abs(self["fid"].get<double>()) < 1e-6);
  CHECK(std::abs(self["sfid"].get<double>()) < 1e-6);
  CHECK(self["precision"].get<double>() == 1.0);
  CHECK(self["recall"].get<double>() == 1.0);
  CHECK(self["input_mode"] == "adm");

  // Against images: the numbers are the library's on the same features.
  out = sit::test::run_program(
      with_network("compare --ref " + others_npz + " --samples " + samples_npz + " --json " + dir.file("other.json")), dir);
  INFO(out.text);
  REQUIRE(out.status == 0);
  const auto other = eval_cli::read_json(dir.file("other.json"));
  torch::set_num_threads(2);  // as the program: the same batches and threads give the same features
  auto network = sit::eval::load_fid_inception(eval_cli::kInception);
  const auto a = sit::eval::inception_features(network, samples, sit::eval::InputMode::ADM, 3);
  const auto b = sit::eval::inception_features(network, others, sit::eval::InputMode::ADM, 3);
  const double fid = sit::eval::frechet_distance(sit::eval::gaussian_statistics(a.pool_3),
                                                 sit::eval::gaussian_statistics(b.pool_3));
  const double sfid = sit::eval::frechet_distance(sit::eval::gaussian_statistics(a.spatial),
                                                  sit::eval::gaussian_statistics(b.spatial));
  REQUIRE(fid > 1e-3);
  CHECK(other["fid"].get<double>() == Approx(fid).epsilon(1e-6));
  CHECK(other["sfid"].get<double>() == Approx(sfid).epsilon(1e-6));
  CHECK(other["inception_score"].get<double>() == Approx(sit::eval::inception_score(a.logits)).epsilon(1e-6));
  const auto pr = sit::eval::precision_recall(b.pool_3, a.pool_3);
  CHECK(other["precision"].get<double>() == pr.precision);
  CHECK(other["recall"].get<double>() == pr.recall);
  CHECK(self["inception_score"].get<double>() == other["inception_score"].get<double>());

  // A reference computed in the other input mode is refused, naming both.
  out = sit::test::run_program(
      with_network("stats --input-mode pytorch-fid --images " + others_npz + " --out " + dir.file("pt.npz")), dir);
  REQUIRE(out.status == 0);
  check_error(sit::test::run_program(with_network("compare --ref " + dir.file("pt.npz") + " --samples " + samples_npz), dir),
              "sit-eval", {"pt.npz", "input mode pytorch-fid", "--input-mode is adm"});
}

TEST_CASE("sit-eval features writes pool_3, logits and spatial as the library computes them", "[cli][eval]") {
  sit::test::TempDir dir;
  torch::manual_seed(1);
  const auto images = torch::randint(0, 256, {2, 28, 28, 3}, torch::kUInt8);
  const auto npz = eval_cli::write_images(dir, "images.npz", images);
  auto out = sit::test::run_program(
      with_network("features --input-mode pytorch-fid --images " + npz + " --out-npz " + dir.file("f.npz")), dir);
  INFO(out.text);
  REQUIRE(out.status == 0);
  auto written = sit::io::read_npz(dir.file("f.npz"));
  torch::set_num_threads(2);
  auto network = sit::eval::load_fid_inception(eval_cli::kInception);
  const auto expected = sit::eval::inception_features(network, images, sit::eval::InputMode::PytorchFid, 3);
  for (const auto& [key, value] : {std::pair{"pool_3", expected.pool_3}, std::pair{"logits", expected.logits},
                                   std::pair{"spatial", expected.spatial}}) {
    CAPTURE(key);
    CHECK(written[key].sizes() == value.sizes());
    CHECK((written[key] - value).abs().max().item<double>() <= 1e-5 * value.abs().max().item<double>());
  }
}

TEST_CASE("sit-eval stats / compare: bad input is a one-line error", "[cli][eval]") {
  sit::test::TempDir dir;
  const auto images = eval_cli::write_images(dir, "images.npz", torch::zeros({2, 8, 8, 3}, torch::kUInt8));
  const auto floats = eval_cli::write_images(dir, "floats.npz", torch::zeros({2, 8, 8, 3}));
  sit::io::NamedArrays nothing;
  nothing.insert("labels", torch::zeros({2}, torch::kInt64));
  sit::io::write_npz(dir.file("nothing.npz"), nothing);
  const auto eval = eval_cli::kEval;

  check_error(sit::test::run_program(eval + " stats --images " + images + " --out " + dir.file("s.npz") +
                                         " --inception " + dir.file("missing.pth"), dir),
              "sit-eval",
              {"missing.pth: no such file", "pt_inception-2015-12-05-6726825d.pth", "https://github.com/mseitzer"});
  check_error(sit::test::run_program(eval + " stats --images " + images + " --out " + dir.file("s.npz"), dir),
              "sit-eval", {"--inception", "is needed"});
  check_error(sit::test::run_program(with_network("stats --images " + floats + " --out " + dir.file("s.npz")) +
                                         " --batch-size 0", dir),
              "sit-eval", {"--batch-size 0", "must be 1 or more"});
  if (!torch::cuda::is_available()) {
    check_error(sit::test::run_program(with_network("stats --images " + images + " --out " + dir.file("s.npz")) +
                                           " --device cuda", dir),
                "sit-eval", {"--device cuda", "CUDA is not available"});
  }
  check_error(sit::test::run_program(with_network("stats --images " + floats + " --out " + dir.file("s.npz")), dir),
              "sit-eval", {"floats.npz", "arr_0 is Float", "expected uint8 (N, H, W, C)"});
  check_error(sit::test::run_program(with_network("compare --ref " + dir.file("nothing.npz") + " --samples " + images), dir),
              "sit-eval", {"--ref", "nothing.npz", "neither images (arr_0) nor statistics"});
  check_error(sit::test::run_program(with_network("stats --images " + dir.file("absent.npz") + " --out " + dir.file("s.npz")), dir),
              "sit-eval", {"absent.npz"});
  CHECK(!std::filesystem::exists(dir.file("s.npz")));
}

TEST_CASE("sit-eval stats refuses an image folder of forged headers", "[cli][eval]") {
  // tests/fuzz/regressions/image: headers of a few dozen bytes claiming 62M-63M pixels. Decoded,
  // each cost stb_image 1.6 s or more and its fill of the missing bytes became statistics; the
  // time of the refusal itself is checked in test_image.cpp, away from the program's start.
  const std::string regressions = std::string(SIT_TEST_DATA_DIR) + "/../fuzz/regressions/image/";
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"tga_header_claims_62M_pixels", ".tga"}, {"bmp_header_claims_63M_pixels", ".bmp"},
      {"ppm_header_claims_63M_pixels", ".ppm"}};
  for (const auto& [name, extension] : forged) {
    DYNAMIC_SECTION(name) {
      sit::test::TempDir dir;
      std::filesystem::create_directories(dir.file("images"));
      for (const auto* copy : {"a", "b"}) {
        std::filesystem::copy_file(regressions + name, dir.file("images/") + copy + extension);
      }
      const auto out = sit::test::run_program(
          with_network("stats --images " + dir.file("images") + " --out " + dir.file("s.npz")), dir);
      check_error(out, "sit-eval", {"a" + extension, "pixels in", "bytes", "truncated or corrupt"});
      CHECK(!std::filesystem::exists(dir.file("s.npz")));
    }
  }
}

TEST_CASE("sit-train --eval-every: a log line and a metrics.jsonl line per evaluation, both networks",
          "[cli][eval]") {
  // The run trains on the default data set, and the classifier's statistics are of its test split.
  if (!sit::test::fashion_mnist_installed()) SIT_SKIP("Debian's dataset-fashion-mnist is not installed");
  sit::test::TempDir dir;
  // The reference: statistics of 12 random 28x28 grey images; an untrained classifier.
  torch::manual_seed(2);
  const auto reference = eval_cli::write_images(dir, "ref_images.npz", torch::randint(0, 256, {12, 28, 28, 1}, torch::kUInt8));
  auto out = sit::test::run_program(with_network("stats --images " + reference + " --out " + dir.file("ref.npz")), dir);
  REQUIRE(out.status == 0);
  sit::eval::Classifier classifier;
  sit::eval::save_classifier(classifier, dir.file("classifier.safetensors"));

  const std::string train = std::string(SIT_TRAIN_BIN) +
                            sit::test::free_model(1, 32) + " --global-batch-size 8"
                            " --max-steps 4 --num-sampling-steps 3 --sampling-method euler --threads 2 --eval-samples 8"
                            " --inception " + eval_cli::kInception + " --eval-ref " + dir.file("ref.npz") +
                            " --eval-classifier " + dir.file("classifier.safetensors") + " --results-dir " + dir.file("run");
  out = sit::test::run_program(train + " --eval-every 2", dir);
  INFO(out.text);
  REQUIRE(out.status == 0);
  CHECK_THAT(out.text, Catch::Contains("(step=0000002) Eval of 8 samples: fid "));
  std::ifstream metrics(dir.file("run/metrics.jsonl"));
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(metrics, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["step"] == 2);
  CHECK(lines[1]["step"] == 4);
  for (const auto& line : lines) {
    for (const auto* key : {"fid", "sfid", "inception_score", "precision", "recall", "accuracy", "classifier_fd"}) {
      CAPTURE(key);
      REQUIRE(line.contains(key));
      CHECK(std::isfinite(line[key].get<double>()));
    }
    CHECK(line["samples"] == 8);
    CHECK(line["input_mode"] == "adm");
  }

  // Settings that cannot be evaluated stop the run before it starts.
  check_error(sit::test::run_program(train + " --eval-every 2 --input-mode pytorch-fid", dir), "sit-train",
              {"--eval-ref", "ref.npz", "input mode adm", "--input-mode is pytorch-fid"});
  sit::eval::Classifier wide(sit::eval::ClassifierOptions().image_size(32));
  sit::eval::save_classifier(wide, dir.file("wide.safetensors"));
  check_error(sit::test::run_program(train + " --eval-every 2 --eval-classifier " + dir.file("wide.safetensors"), dir),
              "sit-train", {"--eval-classifier", "wide.safetensors", "32x32x1 images of 10 classes", "28x28x1"});
}
