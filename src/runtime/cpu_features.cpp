#include <sit/runtime/cpu_features.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace sit::runtime {

#if defined(__x86_64__) || defined(__i386__)
namespace {

bool cpuid_bit(unsigned value, int index) { return ((value >> index) & 1u) != 0; }

CpuFeatures read_cpu_features() {
  CpuFeatures features;
  unsigned a = 0, b = 0, c = 0, d = 0;
  // Leaf 1, ECX: FMA 12, OSXSAVE 27 (XGETBV may be used), AVX 28.
  if (!__get_cpuid(1, &a, &b, &c, &d) || !cpuid_bit(c, 27)) return features;
  const bool fma = cpuid_bit(c, 12);
  const bool avx = cpuid_bit(c, 28);
  // XCR0 says which registers the system saves across context switches; instructions on registers
  // it does not save are unusable even where CPUID lists them (a VM or kernel may turn them off).
  unsigned xcr0 = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0), "=d"(xcr0_high) : "c"(0));
  const bool ymm_state = (xcr0 & 0x6) == 0x6;           // SSE, AVX
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;         // and the opmask and both ZMM halves
  const bool tile_state = (xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
  // Leaf 7 subleaf 0, EAX: the last subleaf; EBX: AVX2 5, AVX512F 16, DQ 17, CD 28, BW 30, VL 31;
  // EDX: AMX-BF16 22.
  unsigned last_subleaf = 0;
  if (!__get_cpuid_count(7, 0, &last_subleaf, &b, &c, &d)) return features;
  const bool avx512f = zmm_state && cpuid_bit(b, 16);
  features.fma = fma && ymm_state;
  features.avx2 = avx && ymm_state && cpuid_bit(b, 5);
  features.avx512 = avx512f && cpuid_bit(b, 17) && cpuid_bit(b, 28) && cpuid_bit(b, 30) && cpuid_bit(b, 31);
  features.amx_bf16 = tile_state && cpuid_bit(d, 22);
  // Leaf 7 subleaf 1, EAX: AVX512_BF16 5.
  if (last_subleaf >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) features.avx512_bf16 = avx512f && cpuid_bit(a, 5);
  return features;
}

}  // namespace

CpuFeatures cpu_features() {
  static const CpuFeatures features = read_cpu_features();
  return features;
}
#else
CpuFeatures cpu_features() { return {}; }
#endif

}  // namespace sit::runtime
