#include <sit/image/codec.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <vector>
#include <memory>
#include <string>

#include <c10/util/Exception.h>

#include "io/file.h"

// The stb implementations are compiled here with internal linkage, so they cannot clash with
// another copy of stb in a program that links sit.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
// PIL opens neither Radiance HDR nor Softimage PIC, so read_rgb does not either.
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace sit::image {

namespace {

// stb_image sizes its buffers from the header before it reads any pixel data (up to 2^24 pixels a
// side), so a few bytes could claim gigabytes; images are capped at 8192 x 8192 pixels, checked
// from the header alone.
constexpr int64_t kMaxPixels = int64_t{1} << 26;

// stb_image grows its PNG data buffer to the length a chunk header claims before reading the
// chunk, so every chunk of a PNG before IEND, down to one whose header (length and type) is all
// the file has left, must fit with its CRC in the bytes that follow its header.
void check_png_chunks(const std::vector<uint8_t>& bytes, const std::string& path) {
  const uint8_t signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < sizeof signature || !std::equal(signature, signature + sizeof signature, bytes.begin())) return;
  for (size_t offset = sizeof signature; bytes.size() - offset >= 8;) {
    if (std::equal(bytes.begin() + offset + 4, bytes.begin() + offset + 8, "IEND")) return;  // stb stops there too
    const uint64_t length = (uint64_t{bytes[offset]} << 24) | (uint64_t{bytes[offset + 1]} << 16) |
                            (uint64_t{bytes[offset + 2]} << 8) | bytes[offset + 3];
    TORCH_CHECK(length + 4 <= bytes.size() - offset - 8, "cannot decode image '", path, "': PNG chunk at byte ", offset,
                " claims ", length, " bytes, more than the file holds");
    offset += 12 + length;  // length, type, data, CRC
  }
}

// stb_image parses a binary PNM's width, height and maximum value into an int without an overflow
// check (undefined behaviour past 2^31), so each must have at most 9 digits; and its 16-bit PNM
// path (maximum value above 255) reads past its buffer, so only 8-bit PNMs are read. Whitespace
// and comments are skipped as stb_image does.
void check_pnm_header(const std::vector<uint8_t>& bytes, const std::string& path) {
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) return;
  size_t position = 2;
  for (int field = 0; field < 3; ++field) {
    while (position < bytes.size() && (std::isspace(bytes[position]) || bytes[position] == '#')) {
      if (bytes[position] == '#') {
        while (position < bytes.size() && bytes[position] != '\n' && bytes[position] != '\r') ++position;
      } else {
        ++position;
      }
    }
    size_t digits = 0;
    int64_t value = 0;
    while (position < bytes.size() && std::isdigit(bytes[position]) && digits <= 9) {
      value = value * 10 + (bytes[position++] - '0');
      ++digits;
    }
    TORCH_CHECK(digits <= 9, "cannot decode image '", path, "': PNM header number of more than 9 digits");
    TORCH_CHECK(field < 2 || value <= 255, "cannot decode image '", path, "': 16-bit PNM (maximum value ", value,
                ") is not supported");
  }
}

// stb_image's JPEG reader (Debian's 2.27) fills a Huffman table's 257-entry size list from the 16
// code counts of a DHT segment without checking that they add up to at most 256, writing past the
// list (found by fuzz_image). The segments are walked here as stb_image walks them: markers after
// any 0xff fill bytes, stray bytes between segments skipped, segments skipped by their length,
// a scan's entropy-coded data up to the next marker (0xff then neither 0x00 nor a restart), and
// each DHT read table by table as stb_image reads it.
void check_jpeg_huffman_tables(const std::vector<uint8_t>& bytes, const std::string& path) {
  size_t position = 0;
  const auto get8 = [&]() -> int { return position < bytes.size() ? bytes[position++] : 0; };
  const auto get16 = [&]() { const int high = get8(); return high << 8 | get8(); };
  const auto marker = [&]() -> int {  // -1: no marker here
    int x = get8();
    if (x != 0xff) return -1;
    while (x == 0xff && position < bytes.size()) x = get8();
    return x;
  };
  if (marker() != 0xd8) return;  // not a JPEG to stb_image either
  while (position < bytes.size()) {
    const int m = marker();
    if (m == -1 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) continue;  // stray byte, TEM, restart
    if (m == 0xd9) return;  // end of image
    const size_t start = position;
    const int length = get16();
    if (m == 0xc4) {
      for (int left = length - 2; left > 0 && position < bytes.size();) {
        get8();  // table class and id
        int count = 0;
        for (int i = 0; i < 16; ++i) count += get8();
        TORCH_CHECK(count <= 256, "cannot decode image '", path, "': JPEG Huffman table at byte ", start - 2,
                    " has ", count, " codes, more than 256");
        position += count;
        left -= 17 + count;
      }
    }
    position = start + static_cast<size_t>(length);
    if (m == 0xda) {  // the scan's entropy-coded data, up to the next marker
      while (position + 1 < bytes.size() &&
             !(bytes[position] == 0xff && bytes[position + 1] != 0 && (bytes[position + 1] < 0xd0 || bytes[position + 1] > 0xd7))) {
        ++position;
      }
    }
  }
}

// The most pixels a complete file of `bytes` bytes in the format of its first bytes can hold.
// stb_image allocates from the header and fills what the file lacks, so without this bound a
// 24-byte TGA header claiming 4085 x 15119 pixels cost 1.6 s and 250 MB (14 s under ASan). Each
// ratio is the format's densest encoding:
//   PNG   8 x 1032 pixels a byte: deflate expands at most 1032:1, a pixel takes at least 1 bit;
//   JPEG  512: every 8 x 8 block of a component costs at least one Huffman code (1 bit);
//   GIF   10922: an LZW code (at least 3 bits) stands for at most 4096 pixels;
//   BMP   8: 1 bit a pixel at the least (stb_image reads no compressed BMP);
//   PNM   1 / channels: one byte a sample (8-bit PNM only, see check_pnm_header);
//   PSD   64 and RLE TGA 64: a 2-byte run covers at most 128 bytes (pixels) of a channel;
//   uncompressed TGA 1: one byte a pixel at the least (8-bit grey or colour-mapped).
struct FormatBound {
  const char* format;
  double pixels_per_byte;
};

FormatBound format_bound(const std::vector<uint8_t>& bytes, int channels_in_file) {
  const auto starts_with = [&](std::initializer_list<uint8_t> magic) {
    return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
  };
  if (starts_with({0x89, 'P', 'N', 'G'})) return {"PNG", 8.0 * 1032};
  // stb_image reads a JPEG's start marker after any number of 0xff fill bytes.
  const auto fill = std::find_if(bytes.begin(), bytes.end(), [](uint8_t b) { return b != 0xff; });
  if (fill != bytes.begin() && fill != bytes.end() && *fill == 0xd8) return {"JPEG", 512};
  if (starts_with({'G', 'I', 'F', '8'})) return {"GIF", 4096 * 8 / 3};
  if (starts_with({'B', 'M'})) return {"BMP", 8};
  if (starts_with({'8', 'B', 'P', 'S'})) return {"PSD", 64};
  if (starts_with({'P', '5'}) || starts_with({'P', '6'})) return {"PNM", 1.0 / channels_in_file};
  // TGA has no magic bytes; byte 2 is its image type, 9 to 11 run-length encoded.
  if (bytes.size() > 2 && bytes[2] >= 9) return {"run-length TGA", 64};
  return {"TGA", 1};
}

}  // namespace

torch::Tensor read_rgb(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  TORCH_CHECK(file, "cannot decode image '", path, "': cannot open the file");
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  TORCH_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "cannot decode image '", path,
              "': larger than 2 GiB");
  check_png_chunks(bytes, path);
  check_pnm_header(bytes, path);
  check_jpeg_huffman_tables(bytes, path);
  const auto size = static_cast<int>(bytes.size());
  int width = 0, height = 0, channels_in_file = 0;
  TORCH_CHECK(stbi_info_from_memory(bytes.data(), size, &width, &height, &channels_in_file), "cannot decode image '",
              path, "': ", stbi_failure_reason());
  TORCH_CHECK(int64_t{width} * height <= kMaxPixels, "image '", path, "' has ", width, " x ", height,
              " pixels, more than the ", kMaxPixels, " (8192 x 8192) read_rgb accepts");
  const auto bound = format_bound(bytes, channels_in_file);
  TORCH_CHECK(static_cast<double>(width) * height <= bound.pixels_per_byte * static_cast<double>(bytes.size()),
              "image '", path, "' claims ", width, " x ", height, " pixels in ", bytes.size(),
              " bytes, more than a complete ", bound.format, " file of that size holds (at most ",
              bound.pixels_per_byte, " pixels a byte): it is truncated or corrupt");
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes.data(), size, &width, &height, &channels_in_file, 3), stbi_image_free);
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
