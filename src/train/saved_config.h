#pragma once
// sit-train's configuration as its files save it: one flat object, every field under its key
// (enums by name, an unset optional as null), keys in sorted order. The safetensors it writes hold
// it as JSON text (TrainConfig::to_json, metadata "sit_config"); its .pt checkpoints as their
// "args" dict (as train.py's vars(args), which torch.load shows as a dict of None, bool, int,
// float, str and, for a list setting, a list of floats). Both forms are written from, and read
// into, one JSON object (saved_config.cpp).

#include <sit/io/value.h>
#include <sit/train/train_config.h>

#include <string>

namespace sit::train {

/// The "args" dict of a checkpoint.
io::Value config_args(const TrainConfig& config);

/// The configuration of an "args" dict; fields it lacks keep their defaults. An entry that is no
/// setting (a list, a tensor...), an unknown key or a value of the wrong type is a ConfigError
/// naming `source` and the entry.
TrainConfig config_from_args(const io::Dict& args, const std::string& source);

}  // namespace sit::train
