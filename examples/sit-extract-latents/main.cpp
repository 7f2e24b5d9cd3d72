// sit-extract-latents: an image folder (ImageNet layout) to the VAE latent shards sit-train reads
// with --data latents (see sit/data/latent_shards.h), as fast-DiT's extract_features.py.
//
//   sit-extract-latents --data-path /imagenet/train --image-size 256 --vae sd-vae-ft-ema --out-dir latents
//
// Each shard holds --shard-size images (ADM center crop), then with --flip their mirror images:
// posteriors_NNNNN.npy (n, 2C, h, w), the posterior's mean and std times the scaling factor, so
// training can draw a fresh latent each epoch (or take the mean); with --mean-only
// latents_NNNNN.npy (n, C, h, w) instead. Shards already written are skipped, so an interrupted
// run continues where it stopped.

#include <sit/data/image_folder.h>
#include <sit/io/npy.h>
#include <sit/vae/vae_from_state_dict.h>

#include <ATen/Parallel.h>
#include <fmt/core.h>

#include <filesystem>

#include "common.h"
#include "progress_bar.h"

namespace fs = std::filesystem;

namespace {

struct ExtractParams {
  std::string data_path;
  int64_t image_size = 256;
  sit::vae::VaeConfig vae;
  std::string out_dir;
  bool flip = false;
  bool mean_only = false;
  int64_t shard_size = 1024;
  int64_t batch_size = 32;
  sit::nn::RuntimeConfig runtime;
};

void add_options(CLI::App& app, ExtractParams& p) {
  app.add_option("--data-path", p.data_path, "image folder, one sub-folder per class")->required();
  app.add_option("--image-size", p.image_size, "side of the ADM center crop")->check(sit::examples::kPositive);
  sit::examples::bind(app, p.vae, {"vae_slice_size"});  // --batch-size is the VAE's batch
  app.get_option("--vae")->required();
  app.add_option("--out-dir", p.out_dir, "where the shards go")->required()->check(sit::examples::kOutputDir);
  app.add_flag("--flip", p.flip, "also store each image's horizontal mirror");
  app.add_flag("--mean-only", p.mean_only, "store the posterior mean alone (latents_*.npy)");
  app.add_option("--shard-size", p.shard_size, "images per shard")->check(sit::examples::kPositive);
  app.add_option("--batch-size", p.batch_size, "images per VAE batch")->check(sit::examples::kPositive);
  sit::examples::bind(app, p.runtime, {"precision"});
}

// Images [begin, end) of the folder, decoded and cropped in parallel: (n, 3, S, S) in [-1, 1].
torch::Tensor load_images(const sit::data::ImageFolder& folder, int64_t begin, int64_t end) {
  std::vector<torch::Tensor> images(end - begin);
  at::parallel_for(begin, end, 1, [&](int64_t first, int64_t last) {
    std::mt19937_64 unused_rng;  // no random flip: the folder is built without it
    for (int64_t i = first; i < last; ++i) images[i - begin] = folder.get(i, unused_rng).x;
  });
  return torch::stack(images);
}

// Scaled posterior (mean, std) or mean of the images: (n, 2C or C, h, w) on the CPU.
torch::Tensor encode(sit::vae::AutoencoderKL& vae, const torch::Tensor& images, const ExtractParams& p,
                     const torch::Device& device) {
  auto posterior = vae->encode(images.to(device), p.batch_size);
  double scale = vae->options.scaling_factor();
  if (p.mean_only) return (posterior.mean * scale).cpu();
  return torch::cat({posterior.mean * scale, posterior.std() * scale}, 1).cpu();
}

void write_atomically(const fs::path& path, const torch::Tensor& array) {
  auto partial = path.string() + ".partial";  // not *.npy, so LatentShards never reads it
  sit::io::write_npy(partial, array);
  fs::rename(partial, path);
}

int run(const ExtractParams& p) {
  auto device = sit::examples::apply_runtime(p.runtime);
  sit::data::ImageFolder folder(
      sit::data::ImageFolderOptions(p.data_path).image_size(p.image_size).random_flip(false));
  auto vae = p.vae.load();
  vae->to(device);
  fs::create_directories(p.out_dir);
  auto total = static_cast<int64_t>(folder.size());
  int64_t shards = (total + p.shard_size - 1) / p.shard_size;
  fmt::print("{} images in {} classes -> {} shards in {}\n", total, folder.num_classes(), shards, p.out_dir);
  torch::InferenceMode inference;
  sit::examples::ProgressBar progress;
  int64_t written = 0, skipped = 0;
  for (int64_t shard = 0; shard < shards; ++shard) {
    int64_t begin = shard * p.shard_size, end = std::min(total, begin + p.shard_size);
    auto id = fmt::format("{:05d}", shard);
    fs::path data_file = fs::path(p.out_dir) / ((p.mean_only ? "latents_" : "posteriors_") + id + ".npy");
    fs::path labels_file = fs::path(p.out_dir) / ("labels_" + id + ".npy");
    if (fs::exists(data_file) && fs::exists(labels_file)) {
      ++skipped;
      continue;
    }
    std::vector<torch::Tensor> parts;
    for (int64_t first = begin; first < end; first += p.batch_size) {
      int64_t last = std::min(end, first + p.batch_size);
      auto images = load_images(folder, first, last);
      parts.push_back(encode(vae, images, p, device));
      if (p.flip) parts.push_back(encode(vae, images.flip(-1), p, device));
      progress.show(last, total, fmt::format("images, shard {}/{}", shard + 1, shards));
    }
    // Batches come as (originals, mirrors) pairs; the shard stores all originals, then all mirrors.
    std::vector<torch::Tensor> originals, mirrors;
    for (size_t i = 0; i < parts.size(); ++i) (p.flip && i % 2 == 1 ? mirrors : originals).push_back(parts[i]);
    originals.insert(originals.end(), mirrors.begin(), mirrors.end());
    std::vector<int64_t> label_values;
    for (int64_t i = begin; i < end; ++i) label_values.push_back(folder.samples()[i].second);
    auto labels = torch::tensor(label_values, torch::kInt64);
    write_atomically(labels_file, p.flip ? torch::cat({labels, labels}) : labels);
    write_atomically(data_file, torch::cat(originals));
    ++written;
  }
  progress.finish();
  fmt::print("wrote {} shards, skipped {} already present\n", written, skipped);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ExtractParams params;
  CLI::App app{"sit-extract-latents: an image folder to VAE latent shards for sit-train --data latents"};
  add_options(app, params);
  return sit::examples::run_main("sit-extract-latents", app, argc, argv, [&] { return run(params); });
}
