#pragma once
// Which kernels ("core") OpenBLAS runs. OpenBLAS picks its core from CPUID when it loads; a release
// older than the CPU does not know it and falls back to its generic kernels: Debian 12's 0.3.21
// runs Prescott's SSE3 kernels on Intel's Emerald Rapids (family 6 model 207), several times
// slower than its AVX-512 ones (docs/performance.md, "OpenBLAS's kernels"). OPENBLAS_CORETYPE in
// the environment chooses the core instead, but OpenBLAS reads it only as it loads: a process that
// runs LibTorch already has its core, and setting the variable from inside it changes nothing.

#include <sit/runtime/cpu_features.h>

#include <optional>
#include <string>

namespace sit::runtime {

/// The core OpenBLAS runs in this process (openblas_get_corename, e.g. "Haswell"), or nullopt where
/// the BLAS is not OpenBLAS.
std::optional<std::string> openblas_core();

/// An OpenBLAS core that leaves the CPU's vector instructions unused, and the core to run instead.
struct BlasCoreMismatch {
  std::string core;             // what OpenBLAS runs, e.g. "Prescott"
  std::string matching_core;    // what fits the CPU, as OPENBLAS_CORETYPE spells it, e.g. "SkylakeX"
  std::string instruction_set;  // what the CPU has that `core` does not use: "AVX-512" or "AVX2"
};

/// `core` on a CPU with `features`: a mismatch when `core` is one of OpenBLAS's cores older than
/// AVX2 (its SSE cores and Sandybridge) and the CPU has AVX-512 (matching core SkylakeX) or AVX2
/// with FMA (Haswell); nullopt when the core fits, the CPU is older, or the name is one this check
/// does not know (a newer OpenBLAS's newer core).
std::optional<BlasCoreMismatch> blas_core_mismatch(const std::string& core, const CpuFeatures& features);

/// This process's mismatch: openblas_core() on cpu_features(); nullopt also where the BLAS is not
/// OpenBLAS.
std::optional<BlasCoreMismatch> blas_core_mismatch();

/// One line saying that OpenBLAS runs generic kernels on this CPU and which OPENBLAS_CORETYPE to
/// start the program with, or "" when its core fits (or the BLAS is not OpenBLAS): what an
/// application that links the library can tell its user. sit's programs print it where they do not
/// run themselves again: the user's own OPENBLAS_CORETYPE, or a matching core that did not take.
std::string blas_core_advice();

/// The core to run the program again with for `mismatch`, given the environment's
/// OPENBLAS_CORETYPE and SIT_REEXEC_OPENBLAS_CORETYPE (null when unset): the matching core unless
/// OPENBLAS_CORETYPE is the user's own (set, and not equal to SIT_REEXEC_OPENBLAS_CORETYPE, which
/// run_again_with_openblas_core sets beside it) or is the matching core already, set by an earlier
/// run again (it did not take: running again would loop).
std::optional<std::string> openblas_core_to_run_again_with(const BlasCoreMismatch& mismatch,
                                                           const char* openblas_coretype, const char* reexec_coretype);

/// The same for this process: nullopt also where its core fits or the BLAS is not OpenBLAS.
std::optional<std::string> openblas_core_to_run_again_with();

/// Runs the program again with OPENBLAS_CORETYPE=core (marked as not the user's in
/// SIT_REEXEC_OPENBLAS_CORETYPE): execv of /proc/self/exe with `argv`, the same process to its
/// parent (torchrun, a shell) and the same id. Call it first thing in main, before any work that
/// would be done twice; it returns only where the run again failed (errno says why).
void run_again_with_openblas_core(const std::string& core, char** argv);

}  // namespace sit::runtime
