#include "sit/image/codec.h"

#include <memory>
#include <string>

#include <c10/util/Exception.h>

#include "../io/file.h"

// The stb implementations are compiled here with internal linkage, so they cannot clash with
// another copy of stb in a program that links sit.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace sit::image {

torch::Tensor read_rgb(const std::string& path) {
  int width = 0, height = 0, channels_in_file = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load(path.c_str(), &width, &height, &channels_in_file, 3), stbi_image_free);
  TORCH_CHECK(pixels, "cannot decode image '", path, "': ", stbi_failure_reason());
  return torch::from_blob(pixels.get(), {height, width, 3}, torch::kUInt8).clone();
}

void write_png(const std::string& path, const torch::Tensor& image) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8,
              "write_png expects an (H, W, C) uint8 image, but got ", image.sizes(), " ",
              image.scalar_type());
  const int64_t channels = image.size(2);
  TORCH_CHECK(channels == 1 || channels == 3 || channels == 4,
              "write_png expects 1, 3 or 4 channels, but got ", channels);
  const torch::Tensor pixels = image.contiguous();
  const int height = static_cast<int>(pixels.size(0));
  const int width = static_cast<int>(pixels.size(1));
  // Encoded in memory, then written as every file of ours is (io::detail::AtomicFile): stb's own
  // file writer ignores write errors, so a full disk would leave a truncated PNG in place.
  std::string encoded;
  const int ok = stbi_write_png_to_func(
      [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
      },
      &encoded, width, height, static_cast<int>(channels), pixels.data_ptr<uint8_t>(),
      width * static_cast<int>(channels));
  TORCH_CHECK(ok, "cannot encode PNG '", path, "'");
  io::detail::AtomicFile file(path);
  file.write(encoded);
  file.commit();
}

}  // namespace sit::image
