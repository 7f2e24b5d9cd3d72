// OpenBLAS's core against the CPU: which cores count as generic on which CPUs, the core that fits
// each, and the core this process runs.
#include "support/catch_torch.h"
#include <sit/runtime/blas_core.h>

#include <dlfcn.h>

#include <string>

#include "support/skip.h"

namespace {

sit::runtime::CpuFeatures avx2_cpu() {
  sit::runtime::CpuFeatures features;
  features.avx2 = features.fma = true;
  return features;
}

sit::runtime::CpuFeatures avx512_cpu(bool bf16) {
  auto features = avx2_cpu();
  features.avx512 = true;
  features.avx512_bf16 = bf16;
  return features;
}

}  // namespace

TEST_CASE("a generic OpenBLAS core is matched with the core that fits the CPU", "[runtime]") {
  using sit::runtime::blas_core_mismatch;
  // Emerald Rapids under OpenBLAS 0.3.21: AVX-512 with BF16 and AMX, run on Prescott.
  auto emerald_rapids = avx512_cpu(true);
  emerald_rapids.amx_bf16 = true;
  auto mismatch = blas_core_mismatch("Prescott", emerald_rapids);
  REQUIRE(mismatch);
  CHECK(mismatch->core == "Prescott");
  CHECK(mismatch->matching_core == "SkylakeX");  // 0.3.21 rejects OPENBLAS_CORETYPE=Cooperlake
  CHECK(mismatch->instruction_set == "AVX-512");
  CHECK(blas_core_mismatch("Prescott", avx512_cpu(false))->matching_core == "SkylakeX");

  mismatch = blas_core_mismatch("Nehalem", avx2_cpu());
  REQUIRE(mismatch);
  CHECK(mismatch->matching_core == "Haswell");
  CHECK(mismatch->instruction_set == "AVX2");

  // Haswell's kernels need FMA beside AVX2; a CPU with neither is served by the SSE kernels.
  auto avx2_without_fma = avx2_cpu();
  avx2_without_fma.fma = false;
  CHECK_FALSE(blas_core_mismatch("Prescott", avx2_without_fma));
  CHECK_FALSE(blas_core_mismatch("Prescott", sit::runtime::CpuFeatures{}));
}

TEST_CASE("only OpenBLAS's cores older than AVX2 count as generic", "[runtime]") {
  using sit::runtime::blas_core_mismatch;
  for (const char* core : {"Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn",
                           "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Nano",
                           "Bobcat", "Sandybridge"}) {
    INFO(core);
    CHECK(blas_core_mismatch(core, avx512_cpu(true)));
    CHECK(blas_core_mismatch(core, avx2_cpu()));
  }
  // The AVX2 and AVX-512 cores; AMD's FMA cores, which OpenBLAS picks only on those CPUs; names of
  // other releases (SapphireRapids, 0.3.22 on) and OpenBLAS's "Unknown".
  for (const char* core : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Bulldozer", "Piledriver",
                           "Steamroller", "Excavator", "Unknown", ""}) {
    INFO(core);
    CHECK_FALSE(blas_core_mismatch(core, avx512_cpu(true)));
  }
}

TEST_CASE("a program runs again with the matching core unless the user chose a core or it did not take", "[runtime]") {
  using sit::runtime::openblas_core_to_run_again_with;
  const sit::runtime::BlasCoreMismatch mismatch{"Prescott", "SkylakeX", "AVX-512"};
  CHECK(openblas_core_to_run_again_with(mismatch, nullptr, nullptr) == "SkylakeX");
  CHECK(openblas_core_to_run_again_with(mismatch, "", nullptr) == "SkylakeX");  // OpenBLAS ignores it too
  // The user's own choice, kept even where it is generic or a name OpenBLAS rejects.
  CHECK_FALSE(openblas_core_to_run_again_with(mismatch, "Prescott", nullptr));
  CHECK_FALSE(openblas_core_to_run_again_with(mismatch, "Cooperlake", nullptr));
  CHECK_FALSE(openblas_core_to_run_again_with(mismatch, "Prescott", "SkylakeX"));
  // Set by a run again: corrected, unless it is the matching core already.
  CHECK(openblas_core_to_run_again_with(mismatch, "Prescott", "Prescott") == "SkylakeX");
  CHECK_FALSE(openblas_core_to_run_again_with(mismatch, "SkylakeX", "SkylakeX"));
  CHECK_FALSE(openblas_core_to_run_again_with(mismatch, "skylakex", "skylakex"));
}

TEST_CASE("openblas_core names the core of the OpenBLAS this process loaded", "[runtime]") {
  void* openblas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);  // only if already loaded
  if (openblas == nullptr) SIT_SKIP("no libopenblas.so.0 in this process: LibTorch's BLAS is another one");
  dlclose(openblas);
  const auto core = sit::runtime::openblas_core();
  REQUIRE(core);
  CHECK_FALSE(core->empty());
  CHECK(*core != "Unknown");
}
