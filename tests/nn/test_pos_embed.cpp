// The 2-D sin-cos position embedding against its formula, element by element.
#include "support/catch_torch.h"
#include "nn/pos_embed.h"

#include <cmath>

TEST_CASE("2-D sin-cos pos_embed: first half encodes the column, second half the row", "[nn]") {
  const int64_t D = 16, grid = 5, quarter = D / 4;
  auto emb = sit::nn::get_2d_sincos_pos_embed(D, grid);
  REQUIRE(emb.sizes() == torch::IntArrayRef({grid * grid, D}));
  REQUIRE(emb.dtype() == torch::kFloat32);
  auto acc = emb.accessor<float, 2>();
  for (int64_t i = 0; i < grid; ++i) {
    for (int64_t j = 0; j < grid; ++j) {
      int64_t token = i * grid + j;
      for (int64_t k = 0; k < quarter; ++k) {
        double omega = std::pow(10000.0, -static_cast<double>(k) / quarter);
        CHECK(acc[token][k] == Approx(std::sin(j * omega)).margin(1e-6));
        CHECK(acc[token][quarter + k] == Approx(std::cos(j * omega)).margin(1e-6));
        CHECK(acc[token][2 * quarter + k] == Approx(std::sin(i * omega)).margin(1e-6));
        CHECK(acc[token][3 * quarter + k] == Approx(std::cos(i * omega)).margin(1e-6));
      }
    }
  }
}

TEST_CASE("pos_embed rejects an odd embedding size", "[nn]") {
  CHECK_THROWS_WITH(sit::nn::get_2d_sincos_pos_embed(6, 2), Catch::Contains("even"));
}
