#pragma once
// An AutoencoderKL from diffusers' files: a folder holding config.json and
// diffusion_pytorch_model.safetensors (or .bin), or a weights file (.safetensors, or torch.save
// .bin/.pt/.pth) with or without a config.json beside it.

#include <string>

#include <sit/config/fields.h>
#include <sit/io/state_dict.h>
#include <sit/vae/autoencoder_kl.h>

namespace sit::vae {

/// The weights renamed to diffusers' current attention names: the pre-0.15 names of released
/// checkpoints (sd-vae-ft-*) `<attention>.query / key / value / proj_attn` become
/// `to_q / to_k / to_v / to_out.0`, and 1x1-conv-shaped attention weights (C, C, 1, 1) become
/// (C, C), as diffusers' _convert_deprecated_attention_blocks does. Other keys are kept.
io::StateDict convert_legacy_attention_names(const io::StateDict& state_dict);

/// Where a VAE's weights and config are.
struct VaeFiles {
  std::string weights;
  std::string config;  // empty: none found, the SD-VAE default applies
};

/// `path` a folder: its config.json and diffusion_pytorch_model.safetensors, else .bin. `path` a
/// file: the weights, with the config.json beside it if any. A non-empty `config` overrides.
/// Throws std::runtime_error naming what is missing.
VaeFiles find_vae_files(const std::string& path, const std::string& config = "");

/// The VAE of find_vae_files(path, config) with its weights loaded (legacy names converted), in
/// eval mode on the CPU. A missing, unexpected or wrongly shaped key is a one-line error.
AutoencoderKL load_vae(const std::string& path, const std::string& config = "");

/// Which VAE a run uses: the settings group of --vae, --vae-config and --vae-slice-size, shared
/// by sit-sample (and sit::Generator), sit-vae, sit-extract-latents and sit-train's data.
struct VaeConfig {
  std::string path;        // weights file or diffusers folder; "": none
  std::string config;      // config.json (default: beside the weights, else SD-VAE's)
  int64_t slice_size = 8;  // run the VAE on batch slices of this size (0: the whole batch)

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("vae", self.path,
          "the VAE: a weights file or a diffusers folder (config.json + diffusion_pytorch_model.*); sit-sample also "
          "takes ema or mse (sd-vae-ft-ema/-mse in the models folder, as sample.py)");
    field("vae_config", self.config, "the VAE's config.json (default: the one beside the weights, else SD-VAE's)");
    field("vae_slice_size", self.slice_size, "run the VAE on batch slices of this size (0: the whole batch)",
          config::non_negative);
  }

  bool given() const { return !path.empty(); }
  void validate() const { config::check_ranges(*this); }
  /// load_vae(path, config).
  AutoencoderKL load() const { return load_vae(path, config); }
};

}  // namespace sit::vae
