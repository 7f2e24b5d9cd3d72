// sit-vae: the Stable Diffusion VAE (diffusers' AutoencoderKL) on its own.
//
//   sit-vae encode --vae sd-vae-ft-ema --in images.npy --out-npy mean.npy --out-logvar logvar.npy
//   sit-vae decode --vae sd-vae-ft-ema/diffusion_pytorch_model.safetensors --in z.npy --out-npy x.npy
//
// encode takes images (N, 3, H, W) in [-1, 1] and writes the posterior's mean (and log-variance);
// decode takes latents as the decoder sees them (a diffusion model's output already divided by the
// scaling factor, 0.18215 for SD's VAE). Neither applies the scaling factor.

#include <sit/image/grid.h>
#include <sit/io/npy.h>
#include <sit/vae/vae_from_state_dict.h>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "common.h"

namespace {

struct VaeParams {
  std::string mode;  // "encode" or "decode"
  sit::vae::VaeConfig vae;
  std::string in;
  std::string out_npy;
  std::string out_logvar;
  std::string out;  // decode: a PNG grid
  sit::nn::RuntimeConfig runtime;
};

void add_common_options(CLI::App& app, VaeParams& p) {
  sit::examples::bind(app, p.vae);
  app.get_option("--vae")->required();
  sit::examples::add_old_spelling(app, "--config", "--vae-config");
  sit::examples::add_old_spelling(app, "--slice-size", "--vae-slice-size");
  app.add_option("--in", p.in, "input .npy (N, C, H, W)")->required();
  app.add_option("--out-npy", p.out_npy, "output .npy")->check(sit::examples::kOutputFile);
  sit::examples::bind(app, p.runtime, {"precision"});
}

int run(const VaeParams& p) {
  p.vae.validate();
  if (p.out_npy.empty() && p.out_logvar.empty() && p.out.empty()) {
    throw std::invalid_argument("nothing to write: give --out-npy" +
                                std::string(p.mode == "encode" ? " or --out-logvar" : " or --out"));
  }
  auto device = sit::examples::apply_runtime(p.runtime);
  auto vae = p.vae.load();
  vae->to(device);
  auto input = sit::io::read_npy(p.in);
  const auto& options = vae->options;
  int64_t channels = p.mode == "encode" ? options.in_channels() : options.latent_channels();
  if (input.dim() != 4 || input.size(1) != channels || !input.is_floating_point()) {
    throw std::invalid_argument(fmt::format("{}: holds {} {}, {} expects float (N, {}, H, W)", p.in,
                                            c10::toString(input.scalar_type()), input.sizes(), p.mode, channels));
  }
  input = input.to(device, torch::kFloat32);
  torch::InferenceMode inference;
  if (p.mode == "encode") {
    auto posterior = vae->encode(input, p.vae.slice_size);
    if (!p.out_npy.empty()) sit::io::write_npy(p.out_npy, posterior.mean.cpu());
    if (!p.out_logvar.empty()) sit::io::write_npy(p.out_logvar, posterior.logvar.cpu());
    fmt::print("encoded {} images to latents {}\n", input.size(0), posterior.mean.sizes());
    return 0;
  }
  auto images = vae->decode(input, p.vae.slice_size).cpu();
  if (!p.out_npy.empty()) sit::io::write_npy(p.out_npy, images);
  if (!p.out.empty()) sit::image::save_image(p.out, images);
  fmt::print("decoded {} latents to images {}\n", input.size(0), images.sizes());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  VaeParams params;
  CLI::App app{"sit-vae: the Stable Diffusion VAE (diffusers' AutoencoderKL) on .npy arrays"};
  auto* encode = app.add_subcommand("encode", "images in [-1, 1] -> posterior mean (no scaling factor)");
  auto* decode = app.add_subcommand("decode", "latents (already / scaling factor) -> images in [-1, 1]");
  add_common_options(*encode, params);
  add_common_options(*decode, params);
  encode->add_option("--out-logvar", params.out_logvar, "also write the posterior's log-variance .npy")->check(sit::examples::kOutputFile);
  decode->add_option("--out", params.out, "also write a PNG grid of the images")->check(sit::examples::kOutputFile);
  app.require_subcommand(1);
  return sit::examples::run_main("sit-vae", app, argc, argv, [&] {
    params.mode = encode->parsed() ? "encode" : "decode";
    return run(params);
  });
}
