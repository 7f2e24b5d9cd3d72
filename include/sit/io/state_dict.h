#pragma once
// State dicts: reading the checkpoints the official SiT code writes, and moving them in and out of
// a torch::nn::Module with PyTorch's key names ("blocks.0.attn.qkv.weight").

#include <map>
#include <string>

#include <torch/nn/module.h>
#include <torch/ordered_dict.h>

#include <sit/io/value.h>

namespace sit::io {

using StateDict = torch::OrderedDict<std::string, torch::Tensor>;

struct ReadOptions {
  /// Which state dict of a training checkpoint {"model", "ema", "opt", "args"} to read; empty means
  /// "ema" (what the official sample.py loads), falling back to "model". Ignored for a file that
  /// holds a bare state dict.
  TORCH_ARG(std::string, entry) = "";
};

/// A checkpoint file as read: its state dict, and what it says about how it was made.
struct Checkpoint {
  StateDict state_dict;
  /// A torch.save checkpoint's "args" entry (train.py: an argparse.Namespace object; sit-train: a
  /// dict); None when there is none (a bare state dict, safetensors).
  io::Value args;
  /// A safetensors file's "__metadata__" (empty for torch.save files).
  std::map<std::string, std::string> metadata;
};

/// Reads a torch.save file (zip format) or a safetensors file, told apart by content. A torch.save
/// file may hold a bare state dict (OrderedDict or dict of tensors) or a training checkpoint (see
/// ReadOptions). A "module." prefix (DistributedDataParallel) on every key is removed.
/// Throws std::runtime_error("<path>: <problem>").
StateDict read_state_dict(const std::string& path, const ReadOptions& options = {});
/// As read_state_dict, with the checkpoint's args and metadata.
Checkpoint read_checkpoint(const std::string& path, const ReadOptions& options = {});

/// The state dict held by a dict Value of a torch_load tree (e.g. a checkpoint's "model" entry),
/// with a "module." prefix removed; `source` names it in errors.
StateDict state_dict_from_value(const io::Value& value, const std::string& source);

/// Copies `state_dict` into the module's parameters and buffers (converting to each one's dtype).
/// Every key must match exactly, in name and shape; otherwise throws std::runtime_error naming
/// `source` and the missing, unexpected or mismatched keys.
void load_state_dict(torch::nn::Module& module, const StateDict& state_dict, const std::string& source);

/// The module's parameters, then its buffers, under their dotted names (detached, shared storage).
StateDict state_dict(const torch::nn::Module& module);

/// The state dict as the OrderedDict Value torch_save writes, e.g. to build a training checkpoint
/// {"model": ..., "ema": ..., "opt": ..., "args": ...}.
io::Value state_dict_value(const StateDict& state_dict);

/// Writes a state dict as torch.save(model.state_dict(), path) would (an OrderedDict of tensors),
/// or as safetensors when `path` ends in ".safetensors", with `metadata` in its header (a
/// torch.save file has no place for it).
void save_state_dict(const StateDict& state_dict, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {});

}  // namespace sit::io
