// ImageFolder: torchvision's class and file order, the official train.py transform, and errors.

#include <filesystem>
#include <fstream>


#include "support/catch_torch.h"
#include "pil_fixtures.h"
#include "support/files.h"
#include <sit/data/image_folder.h>
#include <sit/image/center_crop.h>
#include <sit/image/codec.h>

using sit::test::kPilDir;

namespace {

namespace fs = std::filesystem;
using sit::test::TempDir;

// root/b_cats/{z.png, a.PNG, sub/m.png, notes.txt}, root/a_dogs/x.png, root/readme.txt
void make_tree(const TempDir& dir) {
  fs::create_directories(dir.path() / "b_cats" / "sub");
  fs::create_directories(dir.path() / "a_dogs");
  fs::copy_file(kPilDir + "rgb_130x97.png", dir.path() / "b_cats" / "z.png");
  fs::copy_file(kPilDir + "rgb_45x67.png", dir.path() / "b_cats" / "a.PNG");
  fs::copy_file(kPilDir + "gray_80x80.png", dir.path() / "b_cats" / "sub" / "m.png");
  fs::copy_file(kPilDir + "palette_33x29.png", dir.path() / "a_dogs" / "x.png");
  std::ofstream(dir.path() / "b_cats" / "notes.txt") << "not an image";
  std::ofstream(dir.path() / "readme.txt") << "not a class";
}

}  // namespace

TEST_CASE("ImageFolder orders classes and files as torchvision", "[data][image_folder]") {
  TempDir dir;
  make_tree(dir);
  const sit::data::ImageFolder folder(sit::data::ImageFolderOptions(dir.path().string()));
  CHECK(folder.classes() == std::vector<std::string>{"a_dogs", "b_cats"});
  CHECK(folder.num_classes() == 2);
  REQUIRE(folder.size() == 4);
  const auto& samples = folder.samples();
  CHECK(fs::path(samples[0].first).filename() == "x.png");
  CHECK(samples[0].second == 0);
  // sorted(os.walk): files of b_cats (a.PNG, z.png) before those of b_cats/sub.
  CHECK(fs::path(samples[1].first).filename() == "a.PNG");
  CHECK(fs::path(samples[2].first).filename() == "z.png");
  CHECK(fs::path(samples[3].first).filename() == "m.png");
  CHECK(samples[3].second == 1);
}

TEST_CASE("ImageFolder applies center_crop_arr, the flip and Normalize(0.5, 0.5)",
          "[data][image_folder]") {
  TempDir dir;
  make_tree(dir);
  const sit::data::ImageFolder folder(
      sit::data::ImageFolderOptions(dir.path().string()).image_size(32));
  CHECK(folder.shape() == std::array<int64_t, 3>{3, 32, 32});
  // Sample 2 is rgb_130x97.png, whose PIL crop to 32 is in the reference data.
  const torch::Tensor pil_crop = sit::image::read_rgb(kPilDir + "crop32_rgb_130x97.png");
  const torch::Tensor expected = pil_crop.permute({2, 0, 1}).to(torch::kFloat) / 127.5 - 1;
  int flips = 0;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    std::mt19937_64 rng(seed), same(seed);
    const sit::data::Example example = folder.get(2, rng);
    CHECK(example.y == 1);
    REQUIRE(example.x.sizes() == torch::IntArrayRef({3, 32, 32}));
    CHECK(torch::equal(example.x, folder.get(2, same).x));
    const bool flipped = torch::allclose(example.x, expected.flip({2}), 0, 1e-6);
    CHECK((flipped || torch::allclose(example.x, expected, 0, 1e-6)));
    flips += flipped;
  }
  CHECK(flips > 0);
  CHECK(flips < 12);

  const sit::data::ImageFolder unflipped(
      sit::data::ImageFolderOptions(dir.path().string()).image_size(32).random_flip(false));
  for (uint64_t seed = 0; seed < 4; ++seed) {
    std::mt19937_64 rng(seed);
    CHECK(torch::allclose(unflipped.get(2, rng).x, expected, 0, 1e-6));
  }
}

TEST_CASE("ImageFolder errors name the folder or file", "[data][image_folder]") {
  TempDir dir;
  using sit::data::ImageFolder;
  using sit::data::ImageFolderOptions;
  const std::string root = dir.path().string();
  CHECK_THROWS_WITH(ImageFolder(ImageFolderOptions(root + "/absent")),
                    Catch::Contains(root + "/absent"));
  CHECK_THROWS_WITH(ImageFolder(ImageFolderOptions(root)),
                    Catch::Contains("no class folders") && Catch::Contains(root));
  fs::create_directories(dir.path() / "empty_class");
  std::ofstream(dir.path() / "empty_class" / "notes.txt") << "text";
  CHECK_THROWS_WITH(ImageFolder(ImageFolderOptions(root)),
                    Catch::Contains("no image files") && Catch::Contains("empty_class"));

  std::ofstream(dir.path() / "empty_class" / "broken.jpg") << "not a jpeg";
  const ImageFolder folder{ImageFolderOptions(root)};
  std::mt19937_64 rng(0);
  CHECK_THROWS_WITH(folder.get(0, rng), Catch::Contains("broken.jpg"));
}
