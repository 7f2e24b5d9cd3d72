#pragma once
// The vector instructions this CPU has and the operating system lets programs use (x86: CPUID and
// XCR0). They decide which kernels are right for it: OpenBLAS's core (runtime/blas_core.h), bf16
// matmuls (nn/precision.h). On other processors every feature reads false.

namespace sit::runtime {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;          // FMA3, which OpenBLAS's Haswell kernels use beside AVX2
  bool avx512 = false;       // Skylake-SP's AVX-512 set: F, CD, BW, DQ and VL
  bool avx512_bf16 = false;  // AVX512_BF16 (with AVX-512 F)
  bool amx_bf16 = false;     // AMX-BF16 with the tile registers enabled
};

/// This CPU's features, read once.
CpuFeatures cpu_features();

}  // namespace sit::runtime
