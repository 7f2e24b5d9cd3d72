// The .npy decoder, in memory: magic, version, header dict literal, dtype, shape and data size.
#include <sit/io/npy.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sit::fuzz::expect_clean([&] { sit::io::decode_npy(data, size, "fuzz.npy"); });
  return 0;
}
