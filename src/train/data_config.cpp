#include <sit/train/data_config.h>

namespace sit::train {

void DataConfig::validate() const {
  vae.validate();
  using config::require;
  require(data != DataSource::Folder || (!data_path.empty() && image_size > 0), "data", "folder",
          "needs " + config::setting("data_path") + " and " + config::setting("image_size"));
  require(data != DataSource::Latents || !data_path.empty(), "data", "latents", "needs " + config::setting("data_path"));
  require(data != DataSource::Latents || !vae.given(), "vae", vae.path,
          "latent shards are already encoded; " + config::setting("vae") + " applies to image data");
  require(image_size >= 0, "image_size", std::to_string(image_size), "must not be negative");
  require(!vae.given() || image_size % 8 == 0, "image_size", std::to_string(image_size),
          "must be a multiple of 8 for the VAE");
  require(num_classes >= 0, "num_classes", std::to_string(num_classes), "must not be negative");
  require(num_workers >= 0, "num_workers", std::to_string(num_workers), "must not be negative (0: load in the training thread)");
}

}  // namespace sit::train
