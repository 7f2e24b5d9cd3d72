#include <sit/vae/vae_from_state_dict.h>
#include <sit/error.h>

#include <array>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace sit::vae {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// (legacy, current) names of the attention projections, before ".weight" / ".bias".
constexpr std::array<std::pair<const char*, const char*>, 4> kLegacyAttentionNames = {{
    {".query", ".to_q"}, {".key", ".to_k"}, {".value", ".to_v"}, {".proj_attn", ".to_out.0"}}};

// The key under diffusers' current names (unchanged when not a legacy attention key).
std::string current_name(const std::string& key) {
  if (key.find(".attentions.") == std::string::npos) return key;
  for (const char* suffix : {".weight", ".bias"}) {
    if (!ends_with(key, suffix)) continue;
    std::string stem = key.substr(0, key.size() - std::string(suffix).size());
    for (const auto& [legacy, current] : kLegacyAttentionNames) {
      if (ends_with(stem, legacy)) return stem.substr(0, stem.size() - std::string(legacy).size()) + current + suffix;
    }
  }
  return key;
}

bool is_attention_projection_weight(const std::string& key) {
  if (key.find(".attentions.") == std::string::npos) return false;
  for (const char* name : {".to_q.weight", ".to_k.weight", ".to_v.weight", ".to_out.0.weight"}) {
    if (ends_with(key, name)) return true;
  }
  return false;
}

}  // namespace

io::StateDict convert_legacy_attention_names(const io::StateDict& state_dict) {
  io::StateDict converted;
  for (const auto& item : state_dict) {
    std::string key = current_name(item.key());
    torch::Tensor value = item.value();
    // The oldest checkpoints hold the projections as 1x1 convs: (C, C, 1, 1) -> (C, C).
    if (is_attention_projection_weight(key) && value.dim() == 4 && value.size(2) == 1 && value.size(3) == 1) {
      value = value.flatten(1);
    }
    if (converted.contains(key)) {
      throw std::runtime_error("VAE state dict holds '" + key + "' under both its legacy and its current name");
    }
    converted.insert(key, value);
  }
  return converted;
}

VaeFiles find_vae_files(const std::string& path, const std::string& config) {
  VaeFiles files;
  fs::path root(path);
  if (fs::is_directory(root)) {
    for (const char* name : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"}) {
      if (fs::is_regular_file(root / name)) {
        files.weights = (root / name).string();
        break;
      }
    }
    if (files.weights.empty()) {
      throw FileError(path, "VAE folder holds neither diffusion_pytorch_model.safetensors nor .bin");
    }
  } else if (fs::is_regular_file(root)) {
    files.weights = path;
    root = root.parent_path().empty() ? fs::path(".") : root.parent_path();
  } else {
    throw FileError(path, "no such VAE file or folder");
  }
  if (!config.empty()) {
    files.config = config;
  } else if (fs::is_regular_file(root / "config.json")) {
    files.config = (root / "config.json").string();
  }
  return files;
}

AutoencoderKL load_vae(const std::string& path, const std::string& config) {
  auto files = find_vae_files(path, config);
  auto options = files.config.empty() ? AutoencoderKLOptions() : read_vae_config(files.config);
  auto state_dict = convert_legacy_attention_names(io::read_state_dict(files.weights));
  if (state_dict.contains("encoder.mid.attn_1.q.weight")) {
    throw std::runtime_error(files.weights + ": holds the original CompVis/ldm VAE layout, not diffusers' "
                             "AutoencoderKL (convert it with diffusers first)");
  }
  AutoencoderKL vae(options);
  io::load_state_dict(*vae, state_dict, files.weights);
  vae->eval();
  return vae;
}

}  // namespace sit::vae
