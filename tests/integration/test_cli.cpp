// The programs as a user runs them: sit-sample on the official fixtures, sit-train end to end on
// Fashion-MNIST (when Debian's dataset-fashion-mnist is installed), and their one-line errors.
#include "catch_torch.h"
#include <sit/io/npy.h>
#include <sit/io/torch_load.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fixture_case.h"
#include "run_program.h"
#include "temp_dir.h"

using namespace sit::testing;

namespace {

using sit::test::Output;

Output run(const std::string& command, const sit::test::TempDir& dir) { return sit::test::run_program(command, dir); }

std::string case_args(const std::string& name) {
  auto dir = fixture_dir(name);
  return " --ckpt " + dir + "/ckpt.pt --num-heads 4 --noise " + dir + "/noise.npy --labels " + dir +
         "/labels.npy --out ''";
}

}  // namespace

TEST_CASE("sit-sample reproduces fixtures from files with the official flags", "[cli]") {
  sit::test::TempDir tmp;
  auto out = tmp.file("x.npy");
  auto cfg = fixture_dir("ode_linear_velocity_heun2_cfg4");
  auto ode = run(std::string(SIT_SAMPLE_BIN) + " ODE" + case_args("ode_linear_velocity_heun2_cfg4") +
                     " --sampling-method heun2 --num-sampling-steps 16 --cfg-scale 4 --out-npy " + out, tmp);
  REQUIRE(ode.status == 0);
  CHECK_THAT(ode.text, Catch::Contains("30 model evaluations"));
  CHECK(relative_l2(sit::io::read_npy(out), read_case_npy(cfg, "expected")) < 1e-4);

  auto sde_dir = fixture_dir("sde_linear_velocity_euler");
  auto sde = run(std::string(SIT_SAMPLE_BIN) + " SDE" + case_args("sde_linear_velocity_euler") +
                     " --sampling-method Euler --diffusion-form sigma --last-step Mean --last-step-size 0.04"
                     " --num-sampling-steps 16 --cfg-scale 1 --sde-noise " + sde_dir + "/sde_noise.npy --out-npy " + out,
                 tmp);
  REQUIRE(sde.status == 0);
  CHECK(relative_l2(sit::io::read_npy(out), read_case_npy(sde_dir, "expected")) < 1e-4);

  auto likelihood = run(std::string(SIT_SAMPLE_BIN) + " ODE" + case_args("ode_linear_velocity_euler") +
                            " --likelihood --sampling-method euler --num-sampling-steps 8 --cfg-scale 1", tmp);
  REQUIRE(likelihood.status == 0);
  CHECK_THAT(likelihood.text, Catch::Contains("bits/dim"));
}

TEST_CASE("sit-sample: bad input is a one-line error", "[cli]") {
  sit::test::TempDir tmp;
  auto ckpt = fixture_dir("ode_linear_velocity_euler") + "/ckpt.pt";
  {
    std::ifstream in(ckpt, std::ios::binary);
    std::ofstream out(tmp.file("truncated.pt"), std::ios::binary);
    std::vector<char> head(20000);
    in.read(head.data(), head.size());
    out.write(head.data(), head.size());
    std::ofstream random(tmp.file("random.pt"), std::ios::binary);
    for (int i = 0; i < 4096; ++i) random.put(static_cast<char>((i * 2654435761u) >> 13));
  }
  auto sample = std::string(SIT_SAMPLE_BIN) + " ODE --out '' --num-heads 4 --ckpt ";
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {tmp.file("truncated.pt"), "truncated.pt"},
           {tmp.file("random.pt"), "is not a checkpoint"},
           {tmp.file("missing.pt"), "missing.pt"},
           {ckpt + " --class-labels 3,12", "class label 12 is outside the model's 10 classes"},
           {ckpt + " --class-labels 1,2 --noise " + ckpt, "ckpt.pt"}}) {
    INFO(args);
    auto result = run(sample + args, tmp);
    CHECK(result.status == 1);
    CHECK_THAT(result.text, Catch::StartsWith("sit-sample: error: ") && Catch::Contains(message));
    CHECK(std::count(result.text.begin(), result.text.end(), '\n') == 1);
  }
}

TEST_CASE("sit-train trains, checkpoints, samples, resumes and saves on SIGTERM", "[cli]") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    WARN("Debian's dataset-fashion-mnist is not installed: the sit-train run is skipped");
    return;
  }
  sit::test::TempDir tmp;
  auto results = tmp.file("run");
  auto train = std::string(SIT_TRAIN_BIN) +
               " --model '' --patch-size 7 --depth 1 --hidden-size 32 --num-heads 2 --global-batch-size 16"
               " --log-every 2 --ckpt-every 4 --sample-every 4 --sample-steps 3 --threads 2 --results-dir " + results;
  auto first = run(train + " --max-steps 4", tmp);
  INFO(first.text);
  REQUIRE(first.status == 0);
  namespace fs = std::filesystem;
  CHECK(fs::exists(results + "/checkpoints/0000004.pt"));
  CHECK(fs::exists(results + "/samples/0000004.png"));
  CHECK(fs::exists(results + "/ema.safetensors"));
  CHECK_THAT(first.text, Catch::Contains("(step=0000004) Train Loss:"));

  auto resumed = run(train + " --max-steps 6 --ckpt " + results + "/checkpoints/0000004.pt", tmp);
  INFO(resumed.text);
  REQUIRE(resumed.status == 0);
  CHECK_THAT(resumed.text, Catch::Contains("Resumed from") && Catch::Contains("at step 4"));
  CHECK(fs::exists(results + "/checkpoints/0000006.pt"));

  // SIGTERM: the run saves where it is and exits 130 (timeout itself then reports 124).
  auto interrupted = run("timeout -s TERM 4 " + train + " --max-steps 100000 --ckpt-every 100000", tmp);
  CHECK(interrupted.status == 124);
  CHECK_THAT(interrupted.text, Catch::Contains("Interrupted at step"));

  auto bad_data = run(train + " --data-path " + tmp.file("nowhere"), tmp);
  CHECK(bad_data.status == 1);
  CHECK_THAT(bad_data.text, Catch::StartsWith("sit-train: error: ") && Catch::Contains("nowhere"));
  auto bad_patch = run(train + " --patch-size 5", tmp);
  CHECK(bad_patch.status == 1);
  CHECK_THAT(bad_patch.text, Catch::Contains("divisible by the patch size 5"));
  auto bad_preset = run(std::string(SIT_TRAIN_BIN) + " --model SiT-M/2 --results-dir " + results, tmp);
  CHECK(bad_preset.status == 1);
  CHECK_THAT(bad_preset.text, Catch::Contains("--model 'SiT-M/2': not a preset; expected SiT-XL/2"));
}
