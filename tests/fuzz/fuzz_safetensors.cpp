// The safetensors reader: header length, JSON header, dtypes, shapes and data offsets.
#include <sit/io/safetensors.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sit::fuzz::scratch_path("fuzz.safetensors");
  sit::fuzz::write_bytes(path, data, size);
  sit::fuzz::expect_clean([&] { sit::io::read_safetensors(path); });
  return 0;
}
