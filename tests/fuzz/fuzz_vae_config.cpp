// The VAE's config.json (diffusers' AutoencoderKL), parsed from memory.
#include <sit/vae/vae_config.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sit::fuzz::expect_clean([&] {
    const auto options = sit::vae::parse_vae_config(std::string(reinterpret_cast<const char*>(data), size), "config.json");
    options.downsample_factor();
  });
  return 0;
}
