// The VAE programs as a user runs them on the small diffusers fixture (tests/data/vae/small):
// sit-vae against diffusers' outputs, sit-sample --vae, and an image folder made here taken through
// sit-extract-latents into sit-train, and through sit-train --vae directly.
#include "support/catch_torch.h"
#include <ATen/CPUGeneratorImpl.h>
#include <sit/data/image_folder.h>
#include <sit/data/latent_shards.h>
#include <sit/image/codec.h>
#include <sit/io/npy.h>
#include <sit/vae/vae_from_state_dict.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/cli.h"
#include "support/files.h"
#include "support/fixture_case.h"
#include "support/process.h"
#include "support/tiny_run.h"

using namespace sit::test;
namespace fs = std::filesystem;

namespace {

// Relative L2 of a float32 port against diffusers (see tests/data/vae/README.md).
constexpr double kTolerance = 1e-5;

const std::string kSmall = std::string(SIT_TEST_DATA_DIR) + "/vae/small";

Output run(const std::string& command, const TempDir& dir) { return run_program(command + " --threads 2", dir); }

torch::Tensor small_npy(const std::string& name) { return sit::io::read_npy(kSmall + "/" + name + ".npy"); }

// root/<class>/<i>.png: 2 classes of 3 smooth 20x18 RGB images (cropped to 16 by the folder).
void make_image_folder(const fs::path& root) {
  auto generator = at::detail::createCPUGenerator(7);
  for (const char* label : {"cat", "dog"}) {
    fs::create_directories(root / label);
    for (int i = 0; i < 3; ++i) {
      auto image = torch::rand({1, 3, 5, 4}, generator);
      image = torch::nn::functional::interpolate(
          image, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{20, 18})
                     .mode(torch::kBilinear).align_corners(false));
      sit::image::write_png((root / label / (std::to_string(i) + ".png")).string(),
                            (image[0].permute({1, 2, 0}) * 255).round().to(torch::kUInt8).contiguous());
    }
  }
}

}  // namespace

TEST_CASE("sit-vae encode and decode match diffusers", "[vae][cli]") {
  TempDir tmp;
  auto vae = std::string(SIT_VAE_BIN);
  auto encode = run(vae + " encode --vae " + kSmall + "/vae_legacy_attn.safetensors --in " + kSmall +
                        "/x.npy --out-npy " + tmp.file("mean.npy") + " --out-logvar " + tmp.file("logvar.npy") +
                        " --vae-slice-size 1", tmp);
  REQUIRE(encode.status == 0);
  CHECK(relative_l2(sit::io::read_npy(tmp.file("mean.npy")), small_npy("mean")) < kTolerance);
  CHECK(relative_l2(sit::io::read_npy(tmp.file("logvar.npy")), small_npy("logvar")) < kTolerance);

  // --config, the old spelling of --vae-config, still works and says the new one.
  auto decode = run(vae + " decode --vae " + kSmall + "/vae.pt --config " + kSmall + "/config.json --in " + kSmall +
                        "/latent_in.npy --out-npy " + tmp.file("x.npy") + " --out " + tmp.file("x.png"), tmp);
  INFO(decode.text);
  REQUIRE(decode.status == 0);
  CHECK(decode.text.find("--config is spelt --vae-config now") != std::string::npos);
  CHECK(relative_l2(sit::io::read_npy(tmp.file("x.npy")), small_npy("decoded")) < kTolerance);
  CHECK(fs::exists(tmp.file("x.png")));

  auto wrong = run(vae + " decode --vae " + kSmall + "/vae.pt --in " + kSmall + "/x.npy --out-npy " +
                       tmp.file("y.npy"), tmp);
  check_error(wrong, "sit-vae", {"x.npy", "(N, 4, H, W)"});
}

TEST_CASE("sit-sample --vae decodes the sampled latents", "[vae][cli]") {
  TempDir tmp;
  auto dir = fixture_dir("ode_linear_velocity_heun2");
  auto out = run(std::string(SIT_SAMPLE_BIN) + " ODE --ckpt " + dir + "/ckpt.pt --num-heads 4 --noise " + dir +
                     "/noise.npy --labels " + dir + "/labels.npy --sampling-method heun2 --num-sampling-steps 16" +
                     " --cfg-scale 1 --vae " + kSmall + "/vae.pt --vae-config " + kSmall + "/config.json --vae-slice-size 1" +
                     " --out-npy " + tmp.file("x.npy") + " --out-latents " + tmp.file("z.npy") + " --out-npz " +
                     tmp.file("x.npz") + " --out " + tmp.file("x.png"), tmp);
  INFO(out.text);
  REQUIRE(out.status == 0);
  auto latents = sit::io::read_npy(tmp.file("z.npy"));
  CHECK(relative_l2(latents, read_case_npy(dir, "expected")) < 1e-4);
  // The images are the VAE's decoding (checked against diffusers above) of latents / 0.18215.
  torch::NoGradGuard no_grad;
  auto vae = sit::vae::load_vae(kSmall + "/vae.pt");
  auto images = sit::io::read_npy(tmp.file("x.npy"));
  CHECK(images.sizes() == torch::IntArrayRef({latents.size(0), 3, 32, 32}));
  CHECK(relative_l2(images, vae->decode(latents / 0.18215)) < 1e-5);
  auto npz = sit::io::read_npz(tmp.file("x.npz"));
  CHECK(npz["arr_0"].sizes() == torch::IntArrayRef({latents.size(0), 32, 32, 3}));
  CHECK(fs::exists(tmp.file("x.png")));
}

TEST_CASE("sit-extract-latents then sit-train on the latents, and sit-train --vae", "[vae][cli]") {
  TempDir tmp;
  make_image_folder(tmp.path() / "images");
  auto extract = std::string(SIT_EXTRACT_LATENTS_BIN) + " --data-path " + tmp.file("images") +
                 " --image-size 16 --vae " + kSmall + "/vae.safetensors --out-dir " + tmp.file("latents") +
                 " --flip --shard-size 4 --batch-size 3";
  auto first = run(extract, tmp);
  INFO(first.text);
  REQUIRE(first.status == 0);
  CHECK_THAT(first.text, Catch::Contains("wrote 2 shards"));

  // Shard 0: images 0..3 then their mirrors; (mean, std) * 0.18215 of the library's posterior.
  auto shard = sit::io::read_npy(tmp.file("latents/posteriors_00000.npy"));
  auto labels = sit::io::read_npy(tmp.file("latents/labels_00000.npy"));
  REQUIRE(shard.sizes() == torch::IntArrayRef({8, 8, 8, 8}));
  CHECK(torch::equal(labels, torch::tensor({0, 0, 0, 1, 0, 0, 0, 1}, torch::kInt64)));
  sit::data::ImageFolder folder(sit::data::ImageFolderOptions(tmp.file("images")).image_size(16).random_flip(false));
  std::mt19937_64 rng;
  std::vector<torch::Tensor> images;
  for (size_t i = 0; i < 4; ++i) images.push_back(folder.get(i, rng).x);
  auto x = torch::stack(images);
  {
    torch::NoGradGuard no_grad;
    auto vae = sit::vae::load_vae(kSmall + "/vae.safetensors");
    auto posterior = vae->encode(torch::cat({x, x.flip(-1)}));
    CHECK(relative_l2(shard.narrow(1, 0, 4), posterior.mean * 0.18215) < 1e-5);
    CHECK(relative_l2(shard.narrow(1, 4, 4), posterior.std() * 0.18215) < 1e-5);
  }

  // Resumable: a second run writes nothing; a removed shard is written again.
  auto again = run(extract, tmp);
  CHECK_THAT(again.text, Catch::Contains("wrote 0 shards, skipped 2"));
  fs::remove(tmp.file("latents/posteriors_00001.npy"));
  auto resumed = run(extract, tmp);
  CHECK_THAT(resumed.text, Catch::Contains("wrote 1 shards, skipped 1"));

  sit::data::LatentShards shards(sit::data::LatentShardsOptions(tmp.file("latents")).num_classes(2));
  CHECK(shards.size() == 12);
  CHECK(shards.has_posteriors());

  std::string model = free_model(1, 32, /*patch_size=*/2) + " --global-batch-size 4"
                      " --max-steps 2 --log-every 1 --sample-every 2 --num-sampling-steps 2 --num-workers 1";
  auto train = run(std::string(SIT_TRAIN_BIN) + " --data latents --data-path " + tmp.file("latents") +
                       " --num-classes 2 --sample-posterior false" + model + " --results-dir " +
                       tmp.file("run_latents"), tmp);
  INFO(train.text);
  CHECK(train.status == 0);
  CHECK(fs::exists(tmp.file("run_latents/checkpoints/0000002.pt")));

  auto train_vae = run(std::string(SIT_TRAIN_BIN) + " --data folder --data-path " + tmp.file("images") +
                           " --image-size 16 --vae " + kSmall + "/vae_legacy_attn.safetensors" + model + " --results-dir " + tmp.file("run_vae"), tmp);
  INFO(train_vae.text);
  CHECK(train_vae.status == 0);
  CHECK(fs::exists(tmp.file("run_vae/checkpoints/0000002.pt")));
  CHECK(fs::exists(tmp.file("run_vae/samples/0000002.png")));  // decoded by the VAE
  auto ema = sit::io::read_state_dict(tmp.file("run_vae/ema.safetensors"));
  CHECK(ema["x_embedder.proj.weight"].size(1) == 4);  // the SiT sees 4-channel 8x8 latents
  CHECK(ema["pos_embed"].size(1) == 16);
}
