// Image decoding through stb_image (PNG, JPEG, BMP, PNM, TGA, GIF, PSD), as read_rgb does it.
#include <sit/image/codec.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sit::fuzz::scratch_path("fuzz.image");
  sit::fuzz::write_bytes(path, data, size);
  sit::fuzz::expect_clean([&] { sit::image::read_rgb(path); });
  return 0;
}
