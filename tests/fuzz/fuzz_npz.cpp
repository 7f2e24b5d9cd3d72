// .npz archives: the zip reader (stored and deflated members) feeding the .npy decoder.
#include <sit/io/npy.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sit::fuzz::scratch_path("fuzz.npz");
  sit::fuzz::write_bytes(path, data, size);
  sit::fuzz::expect_clean([&] { sit::io::read_npz(path); });
  return 0;
}
