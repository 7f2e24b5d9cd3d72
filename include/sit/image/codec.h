#pragma once
// Image files in and out: decoding with stb_image, PNG encoding with stb_image_write.

#include <string>

#include <torch/types.h>

namespace sit::image {

// Decodes any file stb_image reads (PNG, JPEG, BMP, PPM/PGM, TGA, GIF's first frame, PSD) as PIL's
// `Image.open(path).convert("RGB")` does: grey is replicated, palettes expanded, alpha dropped.
// Returns (H, W, 3) uint8. Throws, naming the file, when it cannot be read or decoded.
torch::Tensor read_rgb(const std::string& path);

// Writes an (H, W, C) uint8 image, C in {1, 3, 4}, as PNG. The bytes go to `path.tmp` first and are
// renamed into place, so a reader never sees a half-written file.
void write_png(const std::string& path, const torch::Tensor& image);

}  // namespace sit::image
