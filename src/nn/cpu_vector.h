#pragma once
// What sit's elementwise CPU kernels share (gelu_tanh, cpu_attention's softmax): loops the
// compiler vectorises for the CPU it runs on, e^x without a branch, and bfloat16 as float.
//
// SIT_CPU_CLONES compiles a function for AVX-512, AVX2 + FMA and baseline x86-64, one picked as
// the library loads (function multiversioning, GCC and Clang; Clang takes no templates); once,
// for the target, elsewhere and in the sanitizer builds (their runtimes are not set up when the
// ifunc resolvers run). GCC vectorises the clamps of exp_of only without trapping math, LibTorch's
// own setting: the sources that use this header set -fno-trapping-math (src/CMakeLists.txt).

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SIT_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SIT_SANITIZED 1
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SIT_SANITIZED)
#define SIT_CPU_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define SIT_CPU_CLONES
#endif

namespace sit::nn::cpu {

inline float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// Storage as float: float32 as is, bfloat16 (its bits) as the upper half of a float, rounded to
// nearest even.
inline float load(const float* p, int64_t i) { return p[i]; }
inline float load(const uint16_t* p, int64_t i) { return bits_to_float(static_cast<uint32_t>(p[i]) << 16); }
inline void store(float* p, int64_t i, float v) { p[i] = v; }
inline void store(uint16_t* p, int64_t i, float v) {
  const uint32_t bits = float_to_bits(v);
  p[i] = static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// e^y = 2^n e^r, n = round(y / ln 2), r = y - n ln 2 in two parts (Cody and Waite) so that
// |r| <= ln 2 / 2, e^r by its Taylor polynomial to r^7 (truncation below 1e-8 relative). y is
// clamped to [-87, 89]: e^-87 (1.6e-38) below, +inf from about 88.4 up (n = 128 makes 2^n's
// exponent field all ones). No branches, so that the loops that call it vectorise.
inline float exp_of(float y) {
  y = std::min(std::max(y, -87.0f), 89.0f);
  const float n = (y * 1.4426950408889634f + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (y - n * 0.693145751953125f) - n * 1.4286068203094172e-6f;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * bits_to_float(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
}

}  // namespace sit::nn::cpu
