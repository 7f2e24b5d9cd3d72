// The programs against a generic OpenBLAS core: sit-bench's tiny training step run with OpenBLAS's
// Prescott kernels on a CPU with AVX2 or AVX-512, as Debian 12's OpenBLAS runs them on a CPU it does
// not know. Every check reads the core the step ran on from sit-bench --json.
//
// How the test gets Prescott: OpenBLAS picks its core from CPUID, which a process cannot change for
// itself or its children, so on a CPU OpenBLAS knows the only way to its Prescott kernels is
// OPENBLAS_CORETYPE=Prescott, and that would be the user's own choice, which the programs keep. The
// test therefore also sets SIT_REEXEC_OPENBLAS_CORETYPE=Prescott, the mark a program leaves when
// it sets OPENBLAS_CORETYPE itself: the program then takes Prescott for a choice it may correct,
// as it takes OpenBLAS's own. What this does not reproduce is OpenBLAS's detection on the unknown
// CPU; the program sees the same core name and the same CPU features either way.
#include "support/catch_torch.h"
#include <sit/runtime/blas_core.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "support/files.h"
#include "support/process.h"
#include "support/skip.h"

using namespace sit::test;

namespace {

// One thread, no warm-up: the check is which kernels run, not how fast.
const std::string kBench = std::string(SIT_BENCH_BIN) +
                           " --task train --warmup 0 --repeats 1 --batch-size 4 --input-size 8 --in-channels 1"
                           " --num-classes 3 --model '' --patch-size 4 --depth 1 --hidden-size 32 --num-heads 2"
                           " --threads 1";

struct BenchRun {
  int status;
  std::string text;       // stdout and stderr
  std::string blas_core;  // from --json; "" when it has none
};

// sit-bench in an environment where neither variable is set but as `changes` says.
BenchRun bench(const TempDir& dir, Environment changes) {
  changes.emplace("OPENBLAS_CORETYPE", std::nullopt);
  changes.emplace("SIT_REEXEC_OPENBLAS_CORETYPE", std::nullopt);
  const auto json = dir.file("bench.json"), log = dir.file("bench.txt");
  // A program that ran itself again forever would never finish: it fails at the deadline instead.
  const int status = wait_exit(start_program(kBench + " --json " + json, log, changes), 60);
  std::string core;
  std::ifstream in(json);
  if (in) {
    const auto parsed = nlohmann::json::parse(in);
    if (parsed["blas_core"].is_string()) core = parsed["blas_core"];
  }
  return {status, read_text(log), core};
}

size_t lines_naming_openblas(const std::string& text) {
  std::istringstream lines(text);
  size_t naming = 0;
  for (std::string line; std::getline(lines, line);) naming += line.find("OPENBLAS_CORETYPE") != std::string::npos;
  return naming;
}

// Prescott's mismatch on this CPU, or why the case cannot run here.
std::string why_not_here(const std::optional<sit::runtime::BlasCoreMismatch>& mismatch) {
  if (!sit::runtime::openblas_core()) return "LibTorch's BLAS here is not OpenBLAS";
  if (!mismatch) return "this CPU has no AVX2: OpenBLAS's SSE kernels are the ones for it";
  return "";
}

}  // namespace

TEST_CASE("a program on OpenBLAS's generic kernels runs itself again with the core that fits the CPU", "[runtime]") {
  const auto mismatch = sit::runtime::blas_core_mismatch("Prescott", sit::runtime::cpu_features());
  if (const auto reason = why_not_here(mismatch); !reason.empty()) SIT_SKIP(reason);
  TempDir tmp;
  const auto run = bench(tmp, {{"OPENBLAS_CORETYPE", "Prescott"}, {"SIT_REEXEC_OPENBLAS_CORETYPE", "Prescott"}});
  INFO(run.text);
  REQUIRE(run.status == 0);
  CHECK(run.blas_core == mismatch->matching_core);
  CHECK_THAT(run.text, Catch::StartsWith("sit-bench: OpenBLAS chose its generic Prescott kernels on this " +
                                         mismatch->instruction_set + " CPU; running again with OPENBLAS_CORETYPE=" +
                                         mismatch->matching_core + "\n"));
  CHECK(lines_naming_openblas(run.text) == 1);
}

TEST_CASE("a user's own OPENBLAS_CORETYPE is kept, with one line when it is generic", "[runtime]") {
  const auto mismatch = sit::runtime::blas_core_mismatch("Prescott", sit::runtime::cpu_features());
  if (const auto reason = why_not_here(mismatch); !reason.empty()) SIT_SKIP(reason);
  TempDir tmp;
  const auto generic = bench(tmp, {{"OPENBLAS_CORETYPE", "Prescott"}});
  INFO(generic.text);
  REQUIRE(generic.status == 0);
  CHECK(generic.blas_core == "Prescott");
  CHECK_THAT(generic.text, Catch::StartsWith("sit-bench: OPENBLAS_CORETYPE=Prescott runs OpenBLAS's generic Prescott "
                                             "kernels on this " + mismatch->instruction_set + " CPU; "
                                             "OPENBLAS_CORETYPE=" + mismatch->matching_core + " would run its " +
                                             mismatch->instruction_set + " kernels\n"));
  CHECK(lines_naming_openblas(generic.text) == 1);

  // A core that fits: nothing to say.
  const auto fitting = bench(tmp, {{"OPENBLAS_CORETYPE", mismatch->matching_core}});
  INFO(fitting.text);
  REQUIRE(fitting.status == 0);
  CHECK(fitting.blas_core == mismatch->matching_core);
  CHECK(lines_naming_openblas(fitting.text) == 0);
}

TEST_CASE("without OPENBLAS_CORETYPE a program runs a core that fits the CPU", "[runtime]") {
  const auto mismatch = sit::runtime::blas_core_mismatch("Prescott", sit::runtime::cpu_features());
  if (const auto reason = why_not_here(mismatch); !reason.empty()) SIT_SKIP(reason);
  TempDir tmp;
  const auto run = bench(tmp, {});
  INFO(run.text);
  REQUIRE(run.status == 0);
  REQUIRE_FALSE(run.blas_core.empty());
  CHECK_FALSE(sit::runtime::blas_core_mismatch(run.blas_core, sit::runtime::cpu_features()));
}

TEST_CASE("a program runs itself again once at most", "[runtime]") {
  const auto mismatch = sit::runtime::blas_core_mismatch("Prescott", sit::runtime::cpu_features());
  if (const auto reason = why_not_here(mismatch); !reason.empty()) SIT_SKIP(reason);
  TempDir tmp;
  // Every process of the run reports Prescott, the first and the one run again with the core that fits.
  const auto run = bench(tmp, {{"LD_PRELOAD", SIT_PRESCOTT_CORENAME}});
  INFO(run.text);
  REQUIRE(run.status == 0);
  CHECK_THAT(run.text, Catch::StartsWith("sit-bench: OpenBLAS chose its generic Prescott kernels on this " +
                                         mismatch->instruction_set + " CPU; running again with OPENBLAS_CORETYPE=" +
                                         mismatch->matching_core + "\n"
                                         "sit-bench: OpenBLAS runs its generic Prescott kernels on this " +
                                         mismatch->instruction_set + " CPU even with OPENBLAS_CORETYPE=" +
                                         mismatch->matching_core + "\n"));
  CHECK(lines_naming_openblas(run.text) == 2);
}
