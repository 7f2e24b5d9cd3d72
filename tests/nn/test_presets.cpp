// Presets and parameter counts against the official model's
// sum(p.numel() for p in model.parameters()) (input 32, 4 channels, 1000 classes).
#include "support/catch_torch.h"
#include <sit/nn/presets.h>

#include <algorithm>

namespace {
int64_t parameter_count(const sit::nn::SiTOptions& options) {
  sit::nn::SiT model(options);
  int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  return count;
}
}  // namespace

TEST_CASE("parameter counts equal the official ones", "[nn][presets]") {
  CHECK(parameter_count(sit::nn::sit_preset("SiT-S/2")) == 32963360);
  CHECK(parameter_count(sit::nn::sit_preset("SiT-B/4")) == 130475648);
  CHECK(parameter_count(sit::nn::sit_preset("SiT-XL/2")) == 675129632);
  CHECK(parameter_count(sit::nn::sit_preset("SiT-XL/2").learn_sigma(false)) == 675111184);
}

TEST_CASE("the preset table has the twelve official names", "[nn][presets]") {
  auto names = sit::nn::sit_preset_names();
  REQUIRE(names.size() == 12);
  for (const auto& variant : {"S", "B", "L", "XL"}) {
    for (const auto& patch : {"2", "4", "8"}) {
      auto name = std::string("SiT-") + variant + "/" + patch;
      CHECK(std::find(names.begin(), names.end(), name) != names.end());
      CHECK(sit::nn::sit_preset(name).patch_size() == std::stoi(patch));
    }
  }
  auto xl = sit::nn::sit_preset("SiT-XL/8");
  CHECK((xl.depth() == 28 && xl.hidden_size() == 1152 && xl.num_heads() == 16));
  auto l = sit::nn::sit_preset("SiT-L/4");
  CHECK((l.depth() == 24 && l.hidden_size() == 1024 && l.num_heads() == 16));
  auto b = sit::nn::sit_preset("SiT-B/2");
  CHECK((b.depth() == 12 && b.hidden_size() == 768 && b.num_heads() == 12));
  auto s = sit::nn::sit_preset("SiT-S/8");
  CHECK((s.depth() == 12 && s.hidden_size() == 384 && s.num_heads() == 6));
}

TEST_CASE("an unknown preset names the known ones", "[nn][presets]") {
  CHECK_THROWS_WITH(sit::nn::sit_preset("SiT-M/2"),
                    Catch::Contains("SiT-M/2") && Catch::Contains("SiT-XL/2"));
}
