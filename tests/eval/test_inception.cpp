// The FID Inception-v3 against pytorch-fid's own network (random weights, tests/data/eval/
// make_inception_fixtures.py), in both input modes, and TF1's bilinear resize against TensorFlow
// (make_resize_reference.py).

#include <sit/eval/inception.h>
#include <sit/io/npy.h>

#include "support/catch_torch.h"

namespace inception_test {

std::string eval_data(const std::string& name) { return std::string(SIT_TEST_DATA_DIR) + "/eval/" + name; }

// max |a - b| / max |b|: the features' scale sets the tolerance.
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

}  // namespace inception_test

using inception_test::eval_data;
using inception_test::relative_error;

TEST_CASE("resize_bilinear_tf1 is TensorFlow 1's ResizeBilinear (align_corners, half_pixel_centers false)",
          "[eval][inception]") {
  auto reference = sit::io::read_npz(eval_data("resize_reference.npz"));
  for (const std::string key : {"a", "b", "c"}) {
    CAPTURE(key);
    const auto images = reference["images_" + key], expected = reference["resized_" + key];  // NHWC
    const auto x = images.permute({0, 3, 1, 2}).to(torch::kFloat32).contiguous();
    const auto resized = sit::eval::resize_bilinear_tf1(x, expected.size(1), expected.size(2)).permute({0, 2, 3, 1});
    // Same float32 operations in TensorFlow's order: equal but for rounding (values up to 255).
    CHECK((resized - expected).abs().max().item<double>() <= 1e-4);
  }
}

TEST_CASE("inception_input: grey images are replicated, shapes and dtypes checked", "[eval][inception]") {
  using sit::eval::InputMode;
  auto grey = torch::randint(0, 256, {2, 28, 28, 1}, torch::kUInt8);
  for (const auto mode : {InputMode::ADM, InputMode::PytorchFid}) {
    const auto x = sit::eval::inception_input(grey, mode);
    CHECK(x.sizes() == torch::IntArrayRef({2, 3, 299, 299}));
    CHECK(torch::equal(x, sit::eval::inception_input(grey.expand({2, 28, 28, 3}).contiguous(), mode)));
    CHECK(x.min().item<float>() >= -1.0f);
    CHECK(x.max().item<float>() <= 1.0f);
  }
  CHECK_THROWS_WITH(sit::eval::inception_input(grey.to(torch::kFloat32), InputMode::ADM),
                    Catch::Contains("uint8 (N, H, W, C) with C = 1 or 3"));
  CHECK_THROWS(sit::eval::inception_input(torch::zeros({2, 28, 28, 2}, torch::kUInt8), InputMode::ADM));
}

TEST_CASE("FID Inception features match pytorch-fid's network in both input modes", "[eval][inception]") {
  torch::set_num_threads(2);
  auto network = sit::eval::load_fid_inception(eval_data("inception_random.pt"));
  auto reference = sit::io::read_npz(eval_data("inception_reference.npz"));
  const auto images = reference["images"];
  // pytorch-fid: its own resize (F.interpolate) and scaling; ADM: TensorFlow 1's resize, (x - 128) / 128.
  for (const auto& [mode, prefix] : {std::pair{sit::eval::InputMode::PytorchFid, ""}, std::pair{sit::eval::InputMode::ADM, "adm_"}}) {
    CAPTURE(prefix);
    const auto features = sit::eval::inception_features(network, images, mode, /*batch_size=*/2);
    REQUIRE(features.pool_3.sizes() == torch::IntArrayRef({3, 2048}));
    REQUIRE(features.logits.sizes() == torch::IntArrayRef({3, 1008}));
    REQUIRE(features.spatial.sizes() == torch::IntArrayRef({3, 2023}));
    CHECK(relative_error(features.pool_3, reference[std::string(prefix) + "pool_3"]) < 1e-4);
    CHECK(relative_error(features.logits, reference[std::string(prefix) + "logits"]) < 1e-4);
    CHECK(relative_error(features.spatial, reference[std::string(prefix) + "spatial"]) < 1e-4);
  }
  // The two modes differ (a check that the comparison above can fail).
  CHECK(relative_error(reference["pool_3"], reference["adm_pool_3"]) > 1e-2);
}

TEST_CASE("load_fid_inception names the file to fetch, and refuses a state dict of another network",
          "[eval][inception]") {
  CHECK_THROWS_WITH(sit::eval::load_fid_inception("/nonexistent/pt_inception.pth"),
                    Catch::Contains("/nonexistent/pt_inception.pth: no such file") &&
                        Catch::Contains("pt_inception-2015-12-05-6726825d.pth, published at https://github.com/"));
  CHECK_THROWS_WITH(sit::eval::load_fid_inception(std::string(SIT_TEST_DATA_DIR) + "/io/ckpt.pt"),
                    Catch::Contains("missing keys: Conv2d_1a_3x3"));
}
