// IDX parsing (plain and gzip) and the Fashion-MNIST dataset, on tiny files made here and on
// Debian's dataset-fashion-mnist when it is installed.

#include <fstream>
#include <vector>

#include <zlib.h>

#include "support/catch_torch.h"
#include "support/exceptions.h"
#include "support/files.h"
#include "support/machine.h"
#include "support/skip.h"
#include <sit/data/fashion_mnist.h>
#include <sit/data/idx.h>

namespace {

using sit::test::message_of;
using sit::test::TempDir;

// An IDX file of unsigned bytes: 00 00 08 rank, big-endian dims, data (`data_bytes` of it).
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, size_t data_bytes,
                               uint8_t first_value = 0) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(d >> shift));
  }
  for (size_t i = 0; i < data_bytes; ++i) bytes.push_back(static_cast<uint8_t>(first_value + i));
  return bytes;
}

void write_plain(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

// A 3-image split: image i holds bytes 784 i, 784 i + 1, ... (mod 256); labels 7, 0, 9.
void write_tiny_split(const TempDir& dir, const std::string& split, bool gzip) {
  std::vector<uint8_t> labels = idx_bytes({3}, 0);
  labels.insert(labels.end(), {7, 0, 9});
  const auto images = idx_bytes({3, 28, 28}, 3 * 784);
  const std::string suffix = gzip ? ".gz" : "";
  auto write = gzip ? write_gzip : write_plain;
  write(dir.file(split + "-images-idx3-ubyte" + suffix), images);
  write(dir.file(split + "-labels-idx1-ubyte" + suffix), labels);
}

}  // namespace

TEST_CASE("read_idx reads plain and gzipped files alike", "[data][idx]") {
  TempDir dir;
  const auto bytes = idx_bytes({2, 3}, 6, 10);
  write_plain(dir.file("a.idx"), bytes);
  write_gzip(dir.file("a.idx.gz"), bytes);
  for (const std::string name : {"a.idx", "a.idx.gz"}) {
    const torch::Tensor t = sit::data::read_idx(dir.file(name));
    CHECK(t.scalar_type() == torch::kUInt8);
    CHECK(t.sizes() == torch::IntArrayRef({2, 3}));
    CHECK(t[1][2].item<int>() == 15);
    CHECK(t.sum().item<int>() == 10 + 11 + 12 + 13 + 14 + 15);
  }
}

TEST_CASE("read_idx rejects bad files with the path in the message", "[data][idx]") {
  TempDir dir;
  auto bad_magic = idx_bytes({2}, 2);
  bad_magic[2] = 0x0D;  // float data
  write_plain(dir.file("float.idx"), bad_magic);
  CHECK_THAT(message_of([&] { sit::data::read_idx(dir.file("float.idx")); }),
             Catch::Contains("float.idx") && Catch::Contains("bad magic"));

  write_gzip(dir.file("short.idx.gz"), idx_bytes({4, 5}, 19));
  CHECK_THAT(message_of([&] { sit::data::read_idx(dir.file("short.idx.gz")); }),
             Catch::Contains("short.idx.gz") && Catch::Contains("truncated") &&
                 Catch::Contains("20 bytes") && Catch::Contains("only 19"));

  write_plain(dir.file("header.idx"), {0, 0, 8, 3, 0, 0});
  CHECK_THAT(message_of([&] { sit::data::read_idx(dir.file("header.idx")); }),
             Catch::Contains("truncated"));

  // Dimensions claiming 2^48 bytes (or overflowing) with no data: refused without allocating them.
  write_plain(dir.file("huge.idx"), {0, 0, 8, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0});
  CHECK_THAT(message_of([&] { sit::data::read_idx(dir.file("huge.idx")); }),
             Catch::Contains("huge.idx") && Catch::Contains("need 281474976710656 bytes of data but only 0"));
  write_plain(dir.file("overflow.idx"), {0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255});
  CHECK_THAT(message_of([&] { sit::data::read_idx(dir.file("overflow.idx")); }),
             Catch::Contains("overflow.idx") && Catch::Contains("whose product overflows"));

  CHECK_THAT(message_of([&] { sit::data::read_idx(dir.file("missing.idx")); }),
             Catch::Contains("missing.idx"));
}

TEST_CASE("FashionMNIST decodes a tiny split to [-1, 1]", "[data][fashion_mnist]") {
  for (const bool gzip : {true, false}) {
    TempDir dir;
    write_tiny_split(dir, "t10k", gzip);
    const sit::data::FashionMNIST test(
        sit::data::FashionMNISTOptions().root(dir.path().string()).train(false));
    REQUIRE(test.size() == 3);
    CHECK(test.num_classes() == 10);
    std::mt19937_64 rng(0);
    const sit::data::Example example = test.get(1, rng);
    CHECK(example.y == 0);
    CHECK(example.x.sizes() == torch::IntArrayRef({1, 28, 28}));
    CHECK(example.x.scalar_type() == torch::kFloat);
    // Pixel (row 0, col 5) of image 1 is byte (784 + 5) mod 256 = 21: 21 / 255 * 2 - 1.
    CHECK(example.x[0][0][5].item<float>() == Approx(21 / 127.5 - 1).epsilon(1e-6));
    CHECK(test.get(2, rng).y == 9);
    CHECK(test.labels().sizes() == torch::IntArrayRef({3}));
  }
}

TEST_CASE("FashionMNIST flips only when asked, as the example's generator says",
          "[data][fashion_mnist]") {
  TempDir dir;
  write_tiny_split(dir, "train", true);
  const auto options = sit::data::FashionMNISTOptions().root(dir.path().string());
  const sit::data::FashionMNIST plain(options);
  const sit::data::FashionMNIST flipping(sit::data::FashionMNISTOptions(options).random_flip(true));
  int flips = 0;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    std::mt19937_64 rng(seed), rng_again(seed), unused(seed);
    const torch::Tensor x = flipping.get(0, rng).x;
    CHECK(torch::equal(x, flipping.get(0, rng_again).x));
    const torch::Tensor original = plain.get(0, unused).x;
    const bool flipped = torch::equal(x, original.flip({2}));
    CHECK((flipped || torch::equal(x, original)));
    flips += flipped;
  }
  CHECK(flips > 0);
  CHECK(flips < 16);
}

TEST_CASE("FashionMNIST errors name the problem and the path", "[data][fashion_mnist]") {
  using sit::data::FashionMNISTOptions;
  TempDir dir;
  const std::string root = dir.path().string();
  CHECK_THAT(message_of([&] { sit::data::FashionMNIST(FashionMNISTOptions().root(root + "/no")); }),
             Catch::Contains("directory") && Catch::Contains(root + "/no"));
  CHECK_THAT(message_of([&] { sit::data::FashionMNIST(FashionMNISTOptions().root(root)); }),
             Catch::Contains("train-images-idx3-ubyte.gz"));

  write_tiny_split(dir, "train", true);
  std::vector<uint8_t> four_labels = idx_bytes({4}, 4);
  write_gzip(dir.file("train-labels-idx1-ubyte.gz"), four_labels);
  CHECK_THAT(message_of([&] { sit::data::FashionMNIST(FashionMNISTOptions().root(root)); }),
             Catch::Contains("3 images") && Catch::Contains("4 labels"));
}

TEST_CASE("FashionMNIST reads Debian's dataset-fashion-mnist", "[data][fashion_mnist]") {
  if (!sit::test::fashion_mnist_installed()) SIT_SKIP("Debian's dataset-fashion-mnist is not installed");
  const sit::data::FashionMNIST train{sit::data::FashionMNISTOptions()};
  REQUIRE(train.size() == 60000);
  CHECK(torch::equal(torch::bincount(train.labels()), torch::full({10}, 6000, torch::kLong)));
  CHECK(train.labels()[0].item<int64_t>() == 9);  // an ankle boot
  CHECK(train.images().to(torch::kLong).sum().item<int64_t>() == 3431114169);
  CHECK(train.images()[0][10][13].item<int>() == 193);
  std::mt19937_64 rng(0);
  CHECK(train.get(0, rng).x[0][10][13].item<float>() == Approx(193 / 127.5 - 1).epsilon(1e-6));

  const sit::data::FashionMNIST test(sit::data::FashionMNISTOptions().train(false));
  REQUIRE(test.size() == 10000);
  CHECK(torch::equal(torch::bincount(test.labels()), torch::full({10}, 1000, torch::kLong)));
  CHECK(test.images().to(torch::kLong).sum().item<int64_t>() == 573469082);
}
