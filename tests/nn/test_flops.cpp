// forward_flops against the papers' Gflops column (DiT, Peebles & Xie 2023, Table 4; SiT, Ma et al.
// 2024, Table 1): multiply-adds of one 256x256 image (32x32x4 latents), so half our FLOPs.
#include "support/catch_torch.h"
#include <sit/nn/flops.h>
#include <sit/nn/presets.h>

TEST_CASE("forward_flops gives the published Gflops of the patch-2 presets", "[nn][flops]") {
  const std::vector<std::pair<std::string, double>> published = {
      {"SiT-S/2", 6.06}, {"SiT-B/2", 23.01}, {"SiT-L/2", 80.71}, {"SiT-XL/2", 118.64}};
  for (const auto& [name, gflops] : published) {
    INFO(name);
    double multiply_adds = sit::nn::forward_flops(sit::nn::sit_preset(name), 1) / 2;
    CHECK(multiply_adds / 1e9 == Approx(gflops).epsilon(1e-3));
  }
}

TEST_CASE("forward_flops is linear in the batch and grows with attention's T^2 term", "[nn][flops]") {
  auto options = sit::nn::sit_preset("SiT-S/2");
  CHECK(sit::nn::forward_flops(options, 8) == Approx(8 * sit::nn::forward_flops(options, 1)));
  // Doubling the side quadruples T: linear terms x4, the attention products x16.
  auto small = sit::nn::forward_flops(options.input_size(16), 1);
  auto large = sit::nn::forward_flops(options.input_size(32), 1);
  CHECK(large > 4 * small);
  CHECK(large < 16 * small);
}
