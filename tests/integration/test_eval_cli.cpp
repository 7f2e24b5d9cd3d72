// sit-eval stats / compare / features end to end on pytorch-fid's network with random weights
// (tests/data/eval/inception_random.pt): the numbers it prints and writes against the library's
// own computation, a set against itself, and the one-line errors.

#include <sit/eval/frechet.h>
#include <sit/eval/inception.h>
#include <sit/eval/inception_score.h>
#include <sit/eval/precision_recall.h>
#include <sit/io/npy.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "catch_torch.h"
#include "integration/run_program.h"
#include "temp_dir.h"

namespace eval_cli {

using sit::test::Output;
using sit::test::TempDir;

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

void check_error(const Output& out, const std::vector<std::string>& parts) {
  INFO(out.text);
  CHECK(out.status == 1);
  CHECK_THAT(out.text, Catch::StartsWith("sit-eval: error: "));
  CHECK(std::count(out.text.begin(), out.text.end(), '\n') == 1);
  for (const auto& part : parts) CHECK_THAT(out.text, Catch::Contains(part));
}

}  // namespace eval_cli

using eval_cli::check_error;
using eval_cli::with_network;

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
              {"pt.npz", "input mode pytorch-fid", "--input-mode is adm"});
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
              {"missing.pth: no such file", "pt_inception-2015-12-05-6726825d.pth", "https://github.com/mseitzer"});
  check_error(sit::test::run_program(eval + " stats --images " + images + " --out " + dir.file("s.npz"), dir),
              {"--inception", "is needed"});
  check_error(sit::test::run_program(with_network("stats --images " + floats + " --out " + dir.file("s.npz")) +
                                         " --batch-size 0", dir),
              {"--batch-size 0", "must be 1 or more"});
  check_error(sit::test::run_program(with_network("stats --images " + floats + " --out " + dir.file("s.npz")), dir),
              {"floats.npz", "arr_0 is Float", "expected uint8 (N, H, W, C)"});
  check_error(sit::test::run_program(with_network("compare --ref " + dir.file("nothing.npz") + " --samples " + images), dir),
              {"--ref", "nothing.npz", "neither images (arr_0) nor statistics"});
  check_error(sit::test::run_program(with_network("stats --images " + dir.file("absent.npz") + " --out " + dir.file("s.npz")), dir),
              {"absent.npz"});
  CHECK(!std::filesystem::exists(dir.file("s.npz")));
}
