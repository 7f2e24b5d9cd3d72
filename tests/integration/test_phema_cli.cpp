// Post-hoc EMA through the programs: sit-train --phema-sigma-rel writes snapshots (and resumes
// them), sit-phema reconstructs an EMA from them, sit-sample samples it.
#include <sit/io/safetensors.h>
#include <sit/io/state_dict.h>
#include <sit/train/phema.h>

#include "support/catch_torch.h"
#include "support/cli.h"
#include "support/files.h"
#include "support/process.h"
#include "support/tiny_run.h"

TEST_CASE("sit-train snapshots power-function EMAs, sit-phema reconstructs one, sit-sample samples it", "[cli]") {
  sit::test::TempDir dir;
  const auto data = dir.file("latents"), results = dir.file("run");
  sit::test::write_latent_shard(data, sit::test::tiny_latents());
  const sit::test::TinyTraining training{data};
  const std::string phema = " --phema-sigma-rel 0.05,0.1 --phema-every 2";
  // 3 steps, then a resume to 5: snapshots at 2, 3 (the end of the first run), 4 and 5 (the end).
  auto first = sit::test::run_program(SIT_TRAIN_BIN + training.args(results, 3, 100) + phema, dir);
  INFO(first.text);
  REQUIRE(first.status == 0);
  auto second = sit::test::run_program(SIT_TRAIN_BIN + training.args(results, 5, 100) + phema + " --auto-resume", dir);
  INFO(second.text);
  REQUIRE(second.status == 0);
  const auto snapshots = sit::train::list_phema_snapshots(results + "/phema");
  REQUIRE(snapshots.size() == 8);
  CHECK(snapshots.back().t == 5);
  CHECK(snapshots.back().path == results + "/phema/" + sit::train::phema_snapshot_name(5, 0.1));
  const auto metadata = sit::io::read_safetensors_metadata(snapshots.back().path);
  CHECK(metadata.at(sit::train::kPhemaSigmaRelKey) == "0.1");

  // A resume that tracks other sigma_rels would not continue the run.
  auto changed = sit::test::run_program(
      SIT_TRAIN_BIN + training.args(results, 6, 100) + " --phema-sigma-rel 0.05 --auto-resume", dir);
  sit::test::check_error(changed, "sit-train", {"--phema-sigma-rel 0.05 contradicts", "saved with 0.05,0.1"});

  const auto out = dir.file("out");
  auto reconstructed = sit::test::run_program(
      std::string(SIT_PHEMA_BIN) + " --snapshots " + results + "/phema --sigma-rel 0.07,0.1 --out-dir " + out, dir);
  INFO(reconstructed.text);
  REQUIRE(reconstructed.status == 0);
  const auto file = sit::train::phema_reconstruction_path(out, 5, 0.07);
  REQUIRE(std::filesystem::exists(file));
  // The tracked 0.1 at the last step is the last snapshot (up to the float64 solve's rounding).
  auto tracked = sit::io::read_state_dict(snapshots.back().path);
  auto same = sit::io::read_state_dict(sit::train::phema_reconstruction_path(out, 5, 0.1));
  for (const auto& item : tracked) {
    INFO(item.key());
    CHECK((same[item.key()] - item.value()).abs().max().item<double>() <= 1e-6);
  }

  const std::string sample_flags = " --num-sampling-steps 4 --cfg-scale 1 --seed 1 --num-samples 2 --threads 1";
  auto sampled = sit::test::run_program(
      std::string(SIT_SAMPLE_BIN) + " ODE --ckpt " + file + sample_flags + " --out-npy " + dir.file("x.npy"), dir);
  INFO(sampled.text);
  CHECK(sampled.status == 0);
  CHECK(std::filesystem::exists(dir.file("x.npy")));
}
