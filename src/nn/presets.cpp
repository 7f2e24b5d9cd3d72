#include <sit/nn/presets.h>

#include <array>
#include <sstream>
#include <stdexcept>

namespace sit::nn {

namespace {

struct Preset {
  const char* name;
  int64_t depth, hidden_size, patch_size, num_heads;
};

// The SiT_models table of the official models.py.
constexpr std::array<Preset, 12> kPresets{{
    {"SiT-XL/2", 28, 1152, 2, 16}, {"SiT-XL/4", 28, 1152, 4, 16}, {"SiT-XL/8", 28, 1152, 8, 16},
    {"SiT-L/2", 24, 1024, 2, 16},  {"SiT-L/4", 24, 1024, 4, 16},  {"SiT-L/8", 24, 1024, 8, 16},
    {"SiT-B/2", 12, 768, 2, 12},   {"SiT-B/4", 12, 768, 4, 12},   {"SiT-B/8", 12, 768, 8, 12},
    {"SiT-S/2", 12, 384, 2, 6},    {"SiT-S/4", 12, 384, 4, 6},    {"SiT-S/8", 12, 384, 8, 6},
}};

}  // namespace

SiTOptions sit_preset(const std::string& name) {
  for (const auto& preset : kPresets) {
    if (name == preset.name) {
      return SiTOptions()
          .depth(preset.depth)
          .hidden_size(preset.hidden_size)
          .patch_size(preset.patch_size)
          .num_heads(preset.num_heads);
    }
  }
  std::ostringstream known;
  for (const auto& preset : kPresets) known << (&preset == &kPresets[0] ? "" : ", ") << preset.name;
  throw std::invalid_argument("unknown model preset '" + name + "' (known: " + known.str() + ")");
}

std::vector<std::string> sit_preset_names() {
  std::vector<std::string> names;
  for (const auto& preset : kPresets) names.emplace_back(preset.name);
  return names;
}

}  // namespace sit::nn
