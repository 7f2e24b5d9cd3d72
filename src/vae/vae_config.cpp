#include <sit/vae/vae_config.h>
#include <sit/error.h>

#include <algorithm>
#include <fstream>
#include <type_traits>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace sit::vae {

int64_t AutoencoderKLOptions::downsample_factor() const {
  return int64_t{1} << (block_out_channels().size() - 1);
}

namespace {

// Each block but the last halves the size: 8 blocks downsample 128 times (SD's VAE has 4).
constexpr size_t kMaxBlocks = 8;

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw FileError(source, problem);
}

// Integers must be JSON integers: nlohmann converts a float such as 4e45 to int64_t with a plain
// cast, which is undefined past the int64 range.
template <typename T>
bool holds(const nlohmann::json& value) {
  if constexpr (std::is_same_v<T, int64_t>) {
    return value.is_number_integer();
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    return value.is_array() && std::all_of(value.begin(), value.end(), [](const nlohmann::json& item) { return item.is_number_integer(); });
  } else {
    return true;  // get<T>() checks the type itself
  }
}

template <typename T>
T field(const nlohmann::json& json, const char* name, T fallback, const std::string& source) {
  auto it = json.find(name);
  if (it == json.end() || it->is_null()) return fallback;
  if (!holds<T>(*it)) fail(source, std::string("'") + name + "' has the wrong type: " + it->dump().substr(0, 200));
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(source, std::string("'") + name + "' has the wrong type: " + it->dump());
  }
}

void check_block_types(const nlohmann::json& json, const char* name, const std::string& expected,
                       size_t count, const std::string& source) {
  auto types = field<std::vector<std::string>>(json, name, std::vector<std::string>(count, expected), source);
  if (types.size() != count) {
    fail(source, std::string("'") + name + "' has " + std::to_string(types.size()) +
                     " entries but block_out_channels has " + std::to_string(count));
  }
  for (const auto& type : types) {
    if (type != expected) fail(source, std::string("'") + name + "' holds '" + type + "', only " + expected + " is supported");
  }
}

}  // namespace

AutoencoderKLOptions parse_vae_config(const std::string& text, const std::string& source) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    fail(source, std::string("not valid JSON: ") + error.what());
  }
  if (!json.is_object()) fail(source, "not a JSON object");
  auto class_name = field<std::string>(json, "_class_name", "AutoencoderKL", source);
  if (class_name != "AutoencoderKL") fail(source, "is the config of a " + class_name + ", not an AutoencoderKL");
  auto act_fn = field<std::string>(json, "act_fn", "silu", source);
  if (act_fn != "silu") fail(source, "act_fn '" + act_fn + "' is not supported (only silu)");

  AutoencoderKLOptions defaults, options;
  options.in_channels(field(json, "in_channels", defaults.in_channels(), source))
      .out_channels(field(json, "out_channels", defaults.out_channels(), source))
      .latent_channels(field(json, "latent_channels", defaults.latent_channels(), source))
      .block_out_channels(field(json, "block_out_channels", defaults.block_out_channels(), source))
      .layers_per_block(field(json, "layers_per_block", defaults.layers_per_block(), source))
      .norm_num_groups(field(json, "norm_num_groups", defaults.norm_num_groups(), source))
      .scaling_factor(field(json, "scaling_factor", defaults.scaling_factor(), source))
      .use_quant_conv(field(json, "use_quant_conv", defaults.use_quant_conv(), source))
      .use_post_quant_conv(field(json, "use_post_quant_conv", defaults.use_post_quant_conv(), source))
      .mid_block_add_attention(field(json, "mid_block_add_attention", defaults.mid_block_add_attention(), source));
  if (options.block_out_channels().empty() || options.block_out_channels().size() > kMaxBlocks) {
    fail(source, "block_out_channels has " + std::to_string(options.block_out_channels().size()) +
                     " entries, expected 1 to " + std::to_string(kMaxBlocks));
  }
  for (const auto& [name, value] : {std::pair{"in_channels", options.in_channels()},
                                    std::pair{"out_channels", options.out_channels()},
                                    std::pair{"latent_channels", options.latent_channels()},
                                    std::pair{"layers_per_block", options.layers_per_block()},
                                    std::pair{"norm_num_groups", options.norm_num_groups()}}) {
    if (value <= 0) fail(source, std::string("'") + name + "' is " + std::to_string(value) + ", expected a positive count");
  }
  size_t blocks = options.block_out_channels().size();
  check_block_types(json, "down_block_types", "DownEncoderBlock2D", blocks, source);
  check_block_types(json, "up_block_types", "UpDecoderBlock2D", blocks, source);
  for (int64_t channels : options.block_out_channels()) {
    if (channels <= 0 || channels % options.norm_num_groups() != 0) {
      fail(source, "block_out_channels entry " + std::to_string(channels) + " is not a positive multiple of " +
                       "norm_num_groups " + std::to_string(options.norm_num_groups()));
    }
  }
  return options;
}

AutoencoderKLOptions read_vae_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw FileError(path, "cannot open the VAE config");
  std::stringstream text;
  text << in.rdbuf();
  return parse_vae_config(text.str(), path);
}

}  // namespace sit::vae
