// LeCun's IDX format, plain or gzip-compressed (read_idx takes a path).
#include <sit/data/idx.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sit::fuzz::scratch_path("fuzz.idx");
  sit::fuzz::write_bytes(path, data, size);
  sit::fuzz::expect_clean([&] { sit::data::read_idx(path); });
  return 0;
}
