#pragma once
// Philox4x32-10 (Salmon et al., 2011, "Parallel random numbers: as easy as 1, 2, 3"): a
// counter-based generator, so any element of a stream is computed from (key, counter) alone, on
// the host or in a CUDA thread, with no state to carry. The training draws use it so that an
// example's noise, time and label dropout are the same numbers on every device and every rank.
// Compiled by both the host compiler and nvcc.

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SIT_HOST_DEVICE __host__ __device__
#else
#define SIT_HOST_DEVICE
#endif

namespace sit::random::philox {

struct Block {
  uint32_t v[4];
};

SIT_HOST_DEVICE inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

/// The 10-round Philox4x32 bijection of the 128-bit counter under the 64-bit key.
SIT_HOST_DEVICE inline Block philox4x32_10(Block counter, uint32_t key0, uint32_t key1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, counter.v[0], hi0, lo0);
    mulhilo(0xCD9E8D57u, counter.v[2], hi1, lo1);
    counter = Block{{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
    key0 += 0x9E3779B9u;  // the Weyl sequence of the key schedule
    key1 += 0xBB67AE85u;
  }
  return counter;
}

/// Block `block` of stream `stream` under `key`: counter (block lo, block hi, stream lo, stream hi).
SIT_HOST_DEVICE inline Block stream_block(uint64_t key, uint64_t stream, uint64_t block) {
  return philox4x32_10(Block{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                              static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}},
                       static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32));
}

/// The top 24 bits as a float on [0, 1), exact.
SIT_HOST_DEVICE inline float uniform(uint32_t bits) { return static_cast<float>(bits >> 8) * 0x1p-24f; }

/// Four standard normals from one block, by Box-Muller on its two pairs of words (all 32 bits of
/// each, so the tails reach 6.6 standard deviations). The arithmetic is in double, so that host
/// and device round to the same float but for a rare last-ulp tie.
SIT_HOST_DEVICE inline void normals(const Block& b, float out[4]) {
  for (int pair = 0; pair < 2; ++pair) {
    const double u = (static_cast<double>(b.v[2 * pair]) + 1.0) * 0x1p-32;  // (0, 1]: log(u) is finite
    const double theta = 6.283185307179586 * (static_cast<double>(b.v[2 * pair + 1]) * 0x1p-32);
    const double r = sqrt(-2.0 * log(u));
    out[2 * pair] = static_cast<float>(r * cos(theta));
    out[2 * pair + 1] = static_cast<float>(r * sin(theta));
  }
}

}  // namespace sit::random::philox
