#include <sit/runtime/blas_core.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#include <unistd.h>
#endif

namespace sit::runtime {

namespace {

constexpr const char* kReexecCoretype = "SIT_REEXEC_OPENBLAS_CORETYPE";

// OpenBLAS 0.3.21's cores whose kernels are older than AVX2: the SSE ones it falls back to on a CPU
// it does not know (Prescott), or picks for old CPUs, and Sandybridge (AVX without FMA). AMD's
// Bulldozer to Excavator cores are not here: OpenBLAS picks them only on those CPUs, where they
// are the right ones.
constexpr std::array<std::string_view, 17> kPreAvx2Cores = {
    "Katmai",  "Coppermine", "Northwood", "Prescott",     "Banias",    "Atom", "Core2",  "Penryn",     "Dunnington",
    "Nehalem", "Athlon",     "Opteron",   "Opteron_SSE3", "Barcelona", "Nano", "Bobcat", "Sandybridge"};

bool same_core(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;  // OpenBLAS reads OPENBLAS_CORETYPE without regard to case
}

}  // namespace

std::optional<std::string> openblas_core() {
#if defined(__unix__) || defined(__APPLE__)
  // Looked up, not linked: a LibTorch on MKL or another BLAS has no such function, and then there
  // is nothing to check.
  void* symbol = dlsym(RTLD_DEFAULT, "openblas_get_corename");
  if (symbol == nullptr) return std::nullopt;
  const char* name = reinterpret_cast<char* (*)()>(symbol)();
  if (name != nullptr) return std::string(name);
#endif
  return std::nullopt;
}

std::optional<BlasCoreMismatch> blas_core_mismatch(const std::string& core, const CpuFeatures& features) {
  bool pre_avx2 = false;
  for (auto name : kPreAvx2Cores) pre_avx2 = pre_avx2 || name == core;
  if (!pre_avx2) return std::nullopt;
  // SkylakeX rather than Cooperlake on CPUs with AVX512_BF16: OpenBLAS 0.3.21 does not take
  // OPENBLAS_CORETYPE=Cooperlake (OPENBLAS_VERBOSE=2 shows "Core not found: Cooperlake") and
  // detects the CPU again, which is what went wrong; Cooperlake adds to SkylakeX's kernels only a
  // bf16 GEMM (sbgemm), which Debian's OpenBLAS does not export and its LibTorch does not call.
  if (features.avx512) return BlasCoreMismatch{core, "SkylakeX", "AVX-512"};
  if (features.avx2 && features.fma) return BlasCoreMismatch{core, "Haswell", "AVX2"};
  return std::nullopt;
}

std::optional<BlasCoreMismatch> blas_core_mismatch() {
  const auto core = openblas_core();
  return core ? blas_core_mismatch(*core, cpu_features()) : std::nullopt;
}

std::string blas_core_advice() {
  const auto mismatch = blas_core_mismatch();
  if (!mismatch) return "";
  const auto& [core, matching, instructions] = *mismatch;
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  const std::string chosen = set != nullptr ? set : "";
  if (chosen.empty()) {
    return "OpenBLAS chose its generic " + core + " kernels on this " + instructions +
           " CPU; start the program with OPENBLAS_CORETYPE=" + matching + " in its environment to run its " +
           instructions + " kernels";
  }
  if (same_core(chosen, matching)) {
    return "OpenBLAS runs its generic " + core + " kernels on this " + instructions +
           " CPU even with OPENBLAS_CORETYPE=" + chosen;
  }
  return "OPENBLAS_CORETYPE=" + chosen + " runs OpenBLAS's generic " + core + " kernels on this " + instructions +
         " CPU; OPENBLAS_CORETYPE=" + matching + " would run its " + instructions + " kernels";
}

std::optional<std::string> openblas_core_to_run_again_with(const BlasCoreMismatch& mismatch,
                                                           const char* openblas_coretype, const char* reexec_coretype) {
  if (openblas_coretype == nullptr || *openblas_coretype == '\0') return mismatch.matching_core;
  const bool set_by_run_again = reexec_coretype != nullptr && std::strcmp(openblas_coretype, reexec_coretype) == 0;
  if (!set_by_run_again || same_core(openblas_coretype, mismatch.matching_core)) return std::nullopt;
  return mismatch.matching_core;
}

std::optional<std::string> openblas_core_to_run_again_with() {
  const auto mismatch = blas_core_mismatch();
  if (!mismatch) return std::nullopt;
  return openblas_core_to_run_again_with(*mismatch, std::getenv("OPENBLAS_CORETYPE"), std::getenv(kReexecCoretype));
}

void run_again_with_openblas_core(const std::string& core, char** argv) {
#if defined(__unix__) || defined(__APPLE__)
  std::fflush(nullptr);  // what is buffered would be lost with this process image
  setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  setenv(kReexecCoretype, core.c_str(), 1);
  execv("/proc/self/exe", argv);
#else
  errno = ENOSYS;
#endif
}

}  // namespace sit::runtime
