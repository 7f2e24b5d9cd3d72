#pragma once
// The 12 official configurations, "SiT-S/2" ... "SiT-XL/8" (SiT_models in models.py).

#include <sit/nn/sit.h>

#include <string>
#include <vector>

namespace sit::nn {

/// Options of a preset: depth, hidden_size, patch_size and num_heads set, the rest default.
/// Throws std::invalid_argument naming the known presets for an unknown name.
SiTOptions sit_preset(const std::string& name);

/// "SiT-XL/2", "SiT-XL/4", ..., "SiT-S/8", in the official table's order.
std::vector<std::string> sit_preset_names();

}  // namespace sit::nn
