#pragma once
// What a run trains on.

#include <sit/config/fields.h>
#include <sit/vae/vae_from_state_dict.h>

#include <string>

namespace sit::train {

enum class DataSource { FashionMNIST, Folder, Latents };
constexpr auto enum_table(DataSource) {
  return config::EnumTable<DataSource, 3>{
      "data", {{{DataSource::FashionMNIST, "fashion-mnist"}, {DataSource::Folder, "folder"}, {DataSource::Latents, "latents"}}}};
}

struct DataConfig {
  DataSource data = DataSource::FashionMNIST;
  std::string data_path;    // empty: the data set's default location
  int64_t image_size = 0;   // 0: the data's own size (folders need one)
  int64_t num_classes = 0;  // 0: the data's own count
  int64_t num_workers = 2;
  // Train in the latent space of this VAE: each image batch becomes
  // vae.encode(x).latent_dist.sample() * scaling_factor, as train.py does.
  vae::VaeConfig vae;
  // Latent shards holding posteriors: draw mean + std * eps each time (REPA) or take the mean.
  bool sample_posterior = true;

  template <typename Self, typename Field>
  static void fields(Self& self, Field&& field) {
    field("data", self.data, "data source: Fashion-MNIST (Debian's package), an image folder or latent shards");
    field("data_path", self.data_path, "data directory (default: the data set's own)");
    field("image_size", self.image_size, "crop size of folder images (0: the data's own)");
    field("num_classes", self.num_classes, "classes (0: the data's own count)");
    field("num_workers", self.num_workers, "data loading threads");
    vae::VaeConfig::fields(self.vae, field);
    field("sample_posterior", self.sample_posterior,
          "latent shards with posteriors: draw a latent each time (true) or take the mean (false)");
  }

  /// Throws ConfigError: a folder without --data-path and --image-size, latents without
  /// --data-path, negative sizes, an image size not divisible by 8 with a VAE.
  void validate() const;
};

}  // namespace sit::train
