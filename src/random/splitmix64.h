#pragma once
// SplitMix64's finaliser (Steele, Lea & Flood 2014): a bijection of 64-bit words that spreads every
// input bit over the whole output, so keys made from nearby seeds, epochs or indices are unrelated.

#include "random/philox.h"  // SIT_HOST_DEVICE

namespace sit::random {

SIT_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace sit::random
