#pragma once
// Image files in and out: decoding with stb_image, PNG encoding with stb_image_write.

#include <string>

#include <torch/types.h>

namespace sit::image {

// Decodes any file stb_image reads (PNG, JPEG, BMP, PPM/PGM, TGA, GIF's first frame, PSD) as PIL's
// `Image.open(path).convert("RGB")` does: grey is replicated, palettes expanded, alpha dropped.
// Returns (H, W, 3) uint8. Throws, naming the file, when it cannot be read or decoded, and before
// decoding when its header claims more than 8192 x 8192 pixels or more pixels than a complete file
// of its size and format can hold (a truncated or forged header), so the work a file causes is
// bounded by its size.
torch::Tensor read_rgb(const std::string& path);

// Writes an (H, W, C) uint8 image, C in {1, 3, 4}, as PNG. The bytes go to `path.tmp` first and are
// renamed into place, so a reader never sees a half-written file.
void write_png(const std::string& path, const torch::Tensor& image);

}  // namespace sit::image
