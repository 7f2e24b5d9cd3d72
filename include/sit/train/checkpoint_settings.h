#pragma once
// What a checkpoint says about the model and transport it was trained with, read from whatever
// it holds: sit-train's saved configuration (its "args" dict, or the "sit_config" metadata of the
// safetensors it exports) or an official train.py checkpoint's args (an argparse.Namespace:
// model, image_size, num_classes, path_type, prediction, ...). A bare state dict says nothing
// here; its weights' shapes still fix most of the architecture (nn::infer_sit_options).

#include <sit/io/state_dict.h>
#include <sit/train/train_config.h>
#include <sit/transport/transport.h>

#include <optional>
#include <string>

namespace sit::train {

struct CheckpointSettings {
  /// Where the settings came from, for messages: "sit-train's configuration", "train.py's args",
  /// or "" when the checkpoint holds none.
  std::string origin;
  std::optional<std::string> model;  // a preset name
  /// train.py's args.model when it is no preset: a research fork's own entry of SiT_models (e.g.
  /// "SiT-T/2"), whose architecture the weights give and whose heads the caller must.
  std::optional<std::string> fork_model;
  std::optional<int64_t> num_heads;
  std::optional<int64_t> num_classes;
  std::optional<int64_t> image_size;  // train.py: pixels, the latents being image_size / 8
  std::optional<transport::TransportOptions> transport;
  /// sit-train's model settings, whose LightningDiT block options (use_rmsnorm, ...) the weights
  /// must show.
  std::optional<nn::SiTOptions> architecture;
};

/// The metadata key under which sit-train stores its configuration (TrainConfig::to_json) in the
/// safetensors files it writes.
inline constexpr const char* kConfigMetadataKey = "sit_config";

/// sit-train's configuration saved in a checkpoint (its "args" dict, or the safetensors metadata),
/// or nullopt when it holds none.
std::optional<TrainConfig> saved_train_config(const io::Checkpoint& checkpoint, const std::string& source);

/// Throws ConfigError when the settings are there but malformed (naming `source` and the entry).
CheckpointSettings checkpoint_settings(const io::Checkpoint& checkpoint, const std::string& source);

}  // namespace sit::train
