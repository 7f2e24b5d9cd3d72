// The bad-input table of docs/bad-input.md, row by row: each command runs in a folder holding the
// files that page names, and must end with exit status 1 and one line "<program>: error: ..."
// holding the row's text, leaving the folder's files as they were (no output, complete or partial).
#include "support/catch_torch.h"

#include <sit/eval/classifier.h>
#include <sit/io/npy.h>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "support/cli.h"
#include "support/files.h"
#include "support/machine.h"
#include "support/process.h"
#include "support/skip.h"
#include "support/tiny_run.h"

namespace fs = std::filesystem;

namespace bad_input {

struct Row {
  std::string command;  // as docs/bad-input.md writes it, e.g. "sit-sample ODE --ckpt empty.pt"
  std::string message;  // what the error line must contain
};

// The rows between the table's two marker comments: | `command` | `message` |.
std::vector<Row> table_rows() {
  std::ifstream doc(SIT_BAD_INPUT_DOC);
  INFO(SIT_BAD_INPUT_DOC);
  REQUIRE(doc);
  std::vector<Row> rows;
  const std::regex row("^\\| `([^`]+)` \\| `([^`]+)` \\|$");
  bool inside = false;
  for (std::string line; std::getline(doc, line);) {
    if (line.rfind("<!-- bad-input-table", 0) == 0) inside = !inside;
    std::smatch match;
    if (inside && std::regex_match(line, match, row)) rows.push_back({match[1], match[2]});
  }
  return rows;
}

const std::map<std::string, std::string>& programs() {
  static const std::map<std::string, std::string> paths = {
      {"sit-sample", SIT_SAMPLE_BIN}, {"sit-train", SIT_TRAIN_BIN}, {"sit-eval", SIT_EVAL_BIN},
      {"sit-vae", SIT_VAE_BIN}, {"sit-extract-latents", SIT_EXTRACT_LATENTS_BIN}, {"sit-bench", SIT_BENCH_BIN},
      {"sit-phema", SIT_PHEMA_BIN}};
  return paths;
}

// Every path under `dir` with its size and modification time: what a run must leave unchanged.
std::map<std::string, std::string> listing(const fs::path& dir) {
  std::map<std::string, std::string> entries;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string state = entry.is_directory() ? "folder" : std::to_string(entry.file_size());
    state += " " + std::to_string(entry.last_write_time().time_since_epoch().count());
    entries[fs::relative(entry.path(), dir).string()] = state;
  }
  return entries;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string read_bytes(const fs::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(limit, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(limit));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

// The table's files: a real sit-train checkpoint and EMA of one step, and the broken ones.
void make_files(const fs::path& dir, const sit::test::TempDir& scratch) {
  const auto run_dir = scratch.file("run");
  auto trained = sit::test::run_program(std::string(SIT_TRAIN_BIN) + sit::test::free_model(1, 32) +
                                            " --global-batch-size 4 --max-steps 1 --ckpt-every 1 --sample-every 100"
                                            " --threads 1 --num-workers 1 --results-dir " + run_dir,
                                        scratch);
  INFO(trained.text);
  REQUIRE(trained.status == 0);
  fs::copy_file(run_dir + "/ema.safetensors", dir / "model.safetensors");
  fs::copy_file(run_dir + "/checkpoints/0000001.pt", dir / "checkpoint.pt");
  write_bytes(dir / "truncated.pt", read_bytes(dir / "checkpoint.pt", 20000));
  write_bytes(dir / "empty.pt", "");
  write_bytes(dir / "text.txt", "text\n");
  fs::create_directory(dir / "folder");
  sit::io::write_npy((dir / "images.npy").string(), torch::zeros({1, 3, 16, 16}));
  sit::io::write_npy((dir / "noise-shape.npy").string(), torch::zeros({2, 4, 4}));
  sit::io::write_npy((dir / "labels-float.npy").string(), torch::zeros({2}));
  sit::io::NamedArrays nothing;
  nothing.insert("labels", torch::zeros({2}, torch::kInt64));
  sit::io::write_npz((dir / "nothing.npz").string(), nothing);
  sit::io::NamedArrays images;
  images.insert("arr_0", torch::zeros({2, 28, 28, 1}, torch::kUInt8));
  images.insert("arr_1", torch::zeros({2}));
  sit::io::write_npz((dir / "images.npz").string(), images);
  fs::create_directory(dir / "vae");
  const fs::path vae = SIT_TEST_DATA_DIR "/vae/small";
  fs::copy_file(vae / "config.json", dir / "vae/config.json");
  fs::copy_file(vae / "vae.safetensors", dir / "vae/diffusion_pytorch_model.safetensors");
  sit::eval::Classifier classifier;
  sit::eval::save_classifier(classifier, (dir / "classifier.safetensors").string(), {});
}

}  // namespace bad_input

TEST_CASE("docs/bad-input.md's table: exit status 1, one line naming the problem, no file written", "[cli]") {
  // The table's checkpoint is trained on it.
  if (!sit::test::fashion_mnist_installed()) SIT_SKIP("Debian's dataset-fashion-mnist is not installed");
  const auto rows = bad_input::table_rows();
  REQUIRE(rows.size() >= 40);
  sit::test::TempDir scratch, work;
  bad_input::make_files(work.path(), scratch);
  const auto before = bad_input::listing(work.path());
  std::set<std::string> programs_seen;
  for (const auto& row : rows) {
    const auto program = row.command.substr(0, row.command.find(' '));
    REQUIRE(bad_input::programs().count(program) == 1);
    programs_seen.insert(program);
    const auto command = "cd " + work.path().string() + " && " + bad_input::programs().at(program) +
                         row.command.substr(program.size());
    const auto out = sit::test::run_program(command, scratch);
    INFO(row.command << "\n" << out.text);
    sit::test::check_error(out, program, {row.message});
    CHECK(bad_input::listing(work.path()) == before);
  }
  CHECK(programs_seen.size() == bad_input::programs().size());
}
