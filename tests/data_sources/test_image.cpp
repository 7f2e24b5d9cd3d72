// Image decoding, PIL-exact resampling and ADM's center crop against PIL 9.4 references
// (data_sources/make_pil_reference.py), and the sample grid and uint8 export.

#include <chrono>
#include <fstream>
#include <sstream>


#include "support/catch_torch.h"
#include "pil_fixtures.h"
#include "support/files.h"
#include <sit/image/center_crop.h>
#include <sit/image/codec.h>
#include <sit/image/grid.h>
#include <sit/image/resample.h>

using sit::test::kPilDir;

namespace {

int max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kInt) - b.to(torch::kInt)).abs().max().item<int>();
}

}  // namespace

TEST_CASE("read_rgb converts grey, palette and alpha images to RGB", "[image][codec]") {
  const torch::Tensor rgb = sit::image::read_rgb(kPilDir + "rgb_130x97.png");
  CHECK(rgb.sizes() == torch::IntArrayRef({97, 130, 3}));
  const torch::Tensor grey = sit::image::read_rgb(kPilDir + "gray_80x80.png");
  CHECK(grey.sizes() == torch::IntArrayRef({80, 80, 3}));
  CHECK(torch::equal(grey.select(2, 0), grey.select(2, 2)));
  CHECK(sit::image::read_rgb(kPilDir + "rgba_70x50.png").sizes() == torch::IntArrayRef({50, 70, 3}));
  CHECK(sit::image::read_rgb(kPilDir + "palette_33x29.png").sizes() ==
        torch::IntArrayRef({29, 33, 3}));
}

TEST_CASE("read_rgb names the file it cannot decode", "[image][codec]") {
  sit::test::TempDir dir;
  std::ofstream(dir.file("broken.png")) << "not a png";
  CHECK_THROWS_WITH(sit::image::read_rgb(dir.file("broken.png")), Catch::Contains("broken.png"));
  CHECK_THROWS_WITH(sit::image::read_rgb(dir.file("absent.jpg")), Catch::Contains("absent.jpg"));
  // A header claiming 16384 x 16384 pixels (805 MB) is refused before stb_image allocates them.
  std::ofstream(dir.file("huge.ppm")) << "P6\n16384 16384\n255\n";
  CHECK_THROWS_WITH(sit::image::read_rgb(dir.file("huge.ppm")),
                    Catch::Contains("image '" + dir.file("huge.ppm") + "' has 16384 x 16384 pixels, more than the "
                                  "67108864 (8192 x 8192) read_rgb accepts"));
  // A PNG chunk claiming 1 GB in a small file, and a PNM width of 10 digits (overflowing stb's int).
  const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0x40, 0, 0, 0, 'I', 'D', 'A', 'T', 0, 0, 0, 0};
  std::ofstream(dir.file("chunk.png"), std::ios::binary).write(reinterpret_cast<const char*>(png), sizeof png);
  CHECK_THROWS_WITH(sit::image::read_rgb(dir.file("chunk.png")),
                    Catch::Contains("chunk.png': PNG chunk at byte 8 claims 1073741824 bytes, more than the file holds"));
  // The file ending right after a chunk's length and type (fuzz_image found one claiming 822 MB).
  std::ofstream(dir.file("tail.png"), std::ios::binary).write(reinterpret_cast<const char*>(png), 16);
  CHECK_THROWS_WITH(sit::image::read_rgb(dir.file("tail.png")),
                    Catch::Contains("tail.png': PNG chunk at byte 8 claims 1073741824 bytes, more than the file holds"));
  std::ofstream(dir.file("wide.ppm")) << "P6\n# comment\n3685536855 2\n255\n";
  CHECK_THROWS_WITH(sit::image::read_rgb(dir.file("wide.ppm")), Catch::Contains("wide.ppm': PNM header number of more than 9 digits"));
  // A JPEG Huffman table of 16 x 255 codes: stb_image wrote past its 257-entry list.
  std::string dht = "\xff\xd8\xff\xc4";
  dht += std::string("\x00\x13\x00", 3) + std::string(16, '\xff');
  std::ofstream(dir.file("dht.jpg"), std::ios::binary) << dht;
  CHECK_THROWS_WITH(sit::image::read_rgb(dir.file("dht.jpg")),
                    Catch::Contains("dht.jpg': JPEG Huffman table at byte 2 has 4080 codes, more than 256"));
  std::ofstream(dir.file("deep.pgm")) << "P5 2 2 65535\n" << std::string(8, '\0');
  CHECK_THROWS_WITH(sit::image::read_rgb(dir.file("deep.pgm")), Catch::Contains("deep.pgm': 16-bit PNM (maximum value 65535) is not supported"));
}

TEST_CASE("read_rgb refuses at once a header claiming more pixels than its file holds", "[image][codec]") {
  // tests/fuzz/regressions/image: 24 to 70 bytes claiming 62M-63M pixels, which stb_image took
  // 1.6 s and 250 MB to allocate and fill (14 s under ASan) before the bound.
  const std::string regressions = std::string(SIT_TEST_DATA_DIR) + "/../fuzz/regressions/image/";
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"tga_header_claims_62M_pixels", "4085 x 15119 pixels in 24 bytes, more than a complete TGA file"},
      {"bmp_header_claims_63M_pixels", "7000 x 9000 pixels in 70 bytes, more than a complete BMP file"},
      {"ppm_header_claims_63M_pixels", "7000 x 9000 pixels in 49 bytes, more than a complete PNM file"}};
  for (const auto& [name, claim] : forged) {
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(sit::image::read_rgb(regressions + name),
                      Catch::Contains(name + "' claims " + claim) && Catch::Contains("truncated or corrupt"));
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    CHECK(seconds.count() < 0.5);  // microseconds of header parsing; a loaded machine has margin
  }
  // The bound is the format's densest encoding, so a complete file passes: 4 x 4 grey TGA, 16 bytes of pixels.
  sit::test::TempDir dir;
  std::string tga(18, '\0');
  tga[2] = 3;  // uncompressed grey
  tga[12] = 4, tga[14] = 4, tga[16] = 8;
  std::ofstream(dir.file("grey.tga"), std::ios::binary) << tga << std::string(16, '\x80');
  CHECK(sit::image::read_rgb(dir.file("grey.tga")).sizes() == torch::IntArrayRef({4, 4, 3}));
}

TEST_CASE("write_png round-trips through read_rgb", "[image][codec]") {
  sit::test::TempDir dir;
  const torch::Tensor image = torch::randint(0, 256, {5, 7, 3}, torch::kUInt8);
  sit::image::write_png(dir.file("a.png"), image);
  CHECK(torch::equal(sit::image::read_rgb(dir.file("a.png")), image));
  CHECK_FALSE(std::filesystem::exists(dir.file("a.png.tmp")));
}

// Tolerance: 0 on every uint8 value (stated bound: max abs diff <= 1; the port is exact).
TEST_CASE("resize and center_crop_arr equal PIL's", "[image][resample]") {
  std::ifstream cases(kPilDir + "cases.txt");
  REQUIRE(cases.good());
  int checked = 0;
  for (std::string line; std::getline(cases, line);) {
    std::istringstream fields(line);
    std::string kind, input, expected_file;
    fields >> kind >> input;
    const torch::Tensor image = sit::image::read_rgb(kPilDir + input);
    torch::Tensor got;
    if (kind == "crop") {
      int64_t image_size = 0;
      fields >> image_size >> expected_file;
      got = sit::image::center_crop_arr(image, image_size);
    } else {
      std::string filter;
      int64_t width = 0, height = 0;
      fields >> filter >> width >> height >> expected_file;
      got = sit::image::resize(image, height, width,
                               filter == "box" ? sit::image::Filter::Box
                                               : sit::image::Filter::Bicubic);
    }
    const torch::Tensor expected = sit::image::read_rgb(kPilDir + expected_file);
    INFO(line);
    REQUIRE(got.sizes() == expected.sizes());
    CHECK(max_abs_diff(got, expected) == 0);
    ++checked;
  }
  CHECK(checked == 12);
}

TEST_CASE("resize keeps constant images constant and skips unchanged axes", "[image][resample]") {
  const torch::Tensor flat = torch::full({9, 11, 3}, 77, torch::kUInt8);
  for (const auto filter : {sit::image::Filter::Box, sit::image::Filter::Bicubic}) {
    CHECK(torch::equal(sit::image::resize(flat, 4, 20, filter), torch::full({4, 20, 3}, 77,
                                                                           torch::kUInt8)));
  }
  const torch::Tensor noise = torch::randint(0, 256, {6, 5, 3}, torch::kUInt8);
  CHECK(torch::equal(sit::image::resize(noise, 6, 5, sit::image::Filter::Bicubic), noise));
  // Box halving of an even size is the 2x2 mean, rounded half up.
  const torch::Tensor square = torch::tensor({1, 2, 4, 4}, torch::kUInt8).reshape({2, 2, 1});
  CHECK(sit::image::resize(square, 1, 1, sit::image::Filter::Box).item<int>() == 3);
}

TEST_CASE("center_crop_arr returns the requested square", "[image][resample]") {
  const torch::Tensor image = torch::randint(0, 256, {300, 517, 3}, torch::kUInt8);
  CHECK(sit::image::center_crop_arr(image, 64).sizes() == torch::IntArrayRef({64, 64, 3}));
  CHECK(sit::image::center_crop_arr(image.slice(0, 0, 31), 256).sizes() ==
        torch::IntArrayRef({256, 256, 3}));
}

TEST_CASE("make_grid lays samples out as torchvision does", "[image][grid]") {
  // Three 1x2x2 samples, nrow 2, padding 2: a (3, 2 * 4 + 2, 2 * 4 + 2) grid.
  const torch::Tensor samples =
      torch::tensor({-1.0f, 0.0f, 1.0f, 3.0f, -0.5f, 0.5f, 0.25f, -3.0f, 0.0f, 0.0f, 0.0f, 0.0f})
          .reshape({3, 1, 2, 2});
  const torch::Tensor grid = sit::image::make_grid(samples, sit::image::GridOptions().nrow(2));
  REQUIRE(grid.sizes() == torch::IntArrayRef({3, 10, 10}));
  CHECK(torch::equal(grid.select(0, 0), grid.select(0, 2)));
  const torch::Tensor tile0 = grid[0].slice(0, 2, 4).slice(1, 2, 4);
  CHECK(torch::allclose(tile0, torch::tensor({0.0f, 0.5f, 1.0f, 1.0f}).reshape({2, 2})));
  const torch::Tensor tile1 = grid[0].slice(0, 2, 4).slice(1, 6, 8);
  CHECK(torch::allclose(tile1, torch::tensor({0.25f, 0.75f, 0.625f, 0.0f}).reshape({2, 2})));
  CHECK(torch::allclose(grid[0].slice(0, 6, 8).slice(1, 2, 4), torch::full({2, 2}, 0.5f)));
  // Padding, and the empty fourth cell, keep pad_value.
  CHECK(grid[0].slice(0, 6, 8).slice(1, 6, 8).sum().item<float>() == 0.0f);
  CHECK(grid[0][0].sum().item<float>() == 0.0f);
  CHECK(grid[0].select(1, 5).sum().item<float>() == 0.0f);

  // A single sample has no padding.
  CHECK(sit::image::make_grid(samples.slice(0, 0, 1)).sizes() == torch::IntArrayRef({3, 2, 2}));
}

TEST_CASE("save_image writes the uint8 grid", "[image][grid]") {
  // Values from torchvision: save_image(normalize=True, value_range=(-1, 1)) rounds
  // 255 (x + 1) / 2 + 0.5 down.
  const torch::Tensor samples =
      torch::tensor({-1.5f, -1.0f, -0.5f, 0.0f, 0.25f, 0.5f, 0.999f, 2.0f}).reshape({1, 1, 2, 4});
  const torch::Tensor expected =
      torch::tensor({0, 0, 64, 128, 159, 191, 255, 255}, torch::kUInt8).reshape({2, 4});
  const torch::Tensor pixels = sit::image::grid_to_uint8(sit::image::make_grid(samples));
  CHECK(torch::equal(pixels.select(2, 1), expected));

  sit::test::TempDir dir;
  const torch::Tensor rgb = torch::rand({2, 3, 4, 5}) * 2 - 1;
  sit::image::save_image(dir.file("grid.png"), rgb, sit::image::GridOptions().nrow(1).padding(1));
  const torch::Tensor read = sit::image::read_rgb(dir.file("grid.png"));
  REQUIRE(read.sizes() == torch::IntArrayRef({11, 7, 3}));
  CHECK(torch::equal(read.slice(0, 6, 10).slice(1, 1, 6),
                     sit::image::grid_to_uint8(sit::image::make_grid(rgb[1].unsqueeze(0)))));
}

TEST_CASE("to_uint8_nhwc follows ADM's clamp(127.5 x + 128)", "[image][quantize]") {
  const torch::Tensor samples =
      torch::tensor({-1.5f, -1.0f, -0.5f, 0.0f, 0.25f, 0.5f, 0.999f, 2.0f}).reshape({1, 2, 2, 2});
  const torch::Tensor out = sit::image::to_uint8_nhwc(samples);
  REQUIRE(out.sizes() == torch::IntArrayRef({1, 2, 2, 2}));
  CHECK(out.scalar_type() == torch::kUInt8);
  // (N, H, W, C): channel 0 holds -1.5, -1, -0.5, 0 -> 0, 0, 64, 128; channel 1 the rest.
  CHECK(torch::equal(out.select(3, 0).flatten(), torch::tensor({0, 0, 64, 128}, torch::kUInt8)));
  CHECK(torch::equal(out.select(3, 1).flatten(),
                     torch::tensor({159, 191, 255, 255}, torch::kUInt8)));
}
