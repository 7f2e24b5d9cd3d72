// What a checkpoint says about its model and transport (checkpoint_settings): an official train.py
// checkpoint's args Namespace, sit-train's saved configuration, and a bare state dict.
#include "support/catch_torch.h"
#include <sit/config/error.h>
#include <sit/train/checkpoint_settings.h>

namespace {

std::string io_fixture(const std::string& name) { return std::string(SIT_TEST_DATA_DIR) + "/io/" + name; }

}  // namespace

TEST_CASE("checkpoint_settings reads train.py's args Namespace", "[train]") {
  // train.py's flags around the tiny fixture model; its args have no "model" (no preset fits it).
  auto path = io_fixture("train_py_checkpoint.pt");
  auto settings = sit::train::checkpoint_settings(sit::io::read_checkpoint(path), path);
  CHECK(settings.origin == "train.py's args");
  CHECK_FALSE(settings.model.has_value());
  CHECK_FALSE(settings.num_heads.has_value());
  REQUIRE(settings.num_classes.has_value());
  CHECK(*settings.num_classes == 10);
  REQUIRE(settings.image_size.has_value());
  CHECK(*settings.image_size == 128);
  REQUIRE(settings.transport.has_value());
  CHECK(settings.transport->path_type() == sit::transport::PathType::GVP);
  CHECK(settings.transport->prediction() == sit::transport::ModelType::Velocity);
  CHECK(settings.transport->loss_weight() == sit::transport::WeightType::None);
  CHECK_FALSE(settings.transport->train_eps().has_value());
  CHECK_FALSE(settings.transport->sample_eps().has_value());
  // A Namespace is not sit-train's configuration.
  CHECK_FALSE(sit::train::saved_train_config(sit::io::read_checkpoint(path), path).has_value());
}

TEST_CASE("checkpoint_settings: a train.py model that is no preset is kept as a fork's model", "[train]") {
  // train_checkpoint.pt's args say model="SiT-XS/2", which models.py does not define (a fork may).
  auto path = io_fixture("train_checkpoint.pt");
  auto settings = sit::train::checkpoint_settings(sit::io::read_checkpoint(path), path);
  CHECK_FALSE(settings.model.has_value());
  CHECK_FALSE(settings.num_heads.has_value());
  CHECK(settings.fork_model == std::optional<std::string>("SiT-XS/2"));
}

TEST_CASE("checkpoint_settings reads sit-train's configuration from safetensors metadata", "[train]") {
  sit::train::TrainConfig config;
  config.model.model = "";
  config.model.architecture.num_heads(2);
  config.data.num_classes = 4;
  config.transport.path_type(sit::transport::PathType::VP);
  config.transport.prediction(sit::transport::ModelType::Noise);
  config.transport.sample_eps(0.002);
  sit::io::Checkpoint checkpoint;
  checkpoint.metadata[sit::train::kConfigMetadataKey] = config.to_json();
  auto settings = sit::train::checkpoint_settings(checkpoint, "ema.safetensors");
  CHECK(settings.origin == "sit-train's configuration");
  CHECK_FALSE(settings.model.has_value());
  CHECK(settings.num_heads == std::optional<int64_t>(2));
  CHECK(settings.num_classes == std::optional<int64_t>(4));
  REQUIRE(settings.transport.has_value());
  CHECK(settings.transport->path_type() == sit::transport::PathType::VP);
  CHECK(settings.transport->prediction() == sit::transport::ModelType::Noise);
  CHECK(settings.transport->sample_eps() == std::optional<double>(0.002));

  config.model.model = "SiT-S/2";  // a preset: its heads
  checkpoint.metadata[sit::train::kConfigMetadataKey] = config.to_json();
  settings = sit::train::checkpoint_settings(checkpoint, "ema.safetensors");
  CHECK(settings.model == std::optional<std::string>("SiT-S/2"));
  CHECK(settings.num_heads == std::optional<int64_t>(6));
}

TEST_CASE("checkpoint_settings of a bare state dict says nothing", "[train]") {
  auto path = io_fixture("ckpt.pt");
  auto settings = sit::train::checkpoint_settings(sit::io::read_checkpoint(path), path);
  CHECK(settings.origin.empty());
  CHECK_FALSE(settings.model.has_value());
  CHECK_FALSE(settings.num_heads.has_value());
  CHECK_FALSE(settings.num_classes.has_value());
  CHECK_FALSE(settings.image_size.has_value());
  CHECK_FALSE(settings.transport.has_value());
}
