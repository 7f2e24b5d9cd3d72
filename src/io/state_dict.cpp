#include <sit/io/state_dict.h>
#include <sit/error.h>

#include <cstring>

#include <sit/io/safetensors.h>
#include <sit/io/torch_load.h>

#include "io/byte_reader.h"
#include "io/file.h"

namespace sit::io {
namespace {

using io::detail::fail;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// torch.save archives start with a zip local header; the legacy format with PROTO 2, LONG1 (its
// magic number), which torch_load reports. safetensors starts with a u64 header length then '{'.
bool is_torch_save(const std::vector<uint8_t>& head) {
  return (head.size() >= 4 && std::memcmp(head.data(), "PK\x03\x04", 4) == 0) ||
         (head.size() >= 3 && head[0] == 0x80 && head[1] == 0x02 && head[2] == 0x8a);
}

bool is_safetensors(const std::vector<uint8_t>& head, uint64_t file_size) {
  if (head.size() < 9 || head[8] != '{') return false;
  io::detail::ByteReader reader(head.data(), head.size(), "");
  return reader.u64("header length") <= file_size - 8;
}

std::string join(const std::vector<std::string>& names, size_t most) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < most; ++i) text += (i > 0 ? ", " : "") + names[i];
  if (names.size() > most) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

std::string shape_text(torch::IntArrayRef sizes) {
  std::string text = "[";
  for (size_t i = 0; i < sizes.size(); ++i) text += (i > 0 ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

bool holds_only_tensors(const io::Dict& dict) {
  for (const auto& item : dict.items) {
    if (!item.second.is(io::Value::Kind::Tensor)) return false;
  }
  return true;
}

// The state dict inside a torch.save file: the file's dict itself when it holds only tensors,
// else its entry options.entry() (default "ema", then "model").
const io::Dict& select_state_dict(const io::Value& root, const ReadOptions& options, const std::string& path) {
  if (!root.is(io::Value::Kind::Dict)) {
    fail(path, std::string("holds a ") + io::kind_name(root.kind()) + ", not a state dict or a checkpoint dict");
  }
  const io::Dict& top = root.to_dict();
  if (holds_only_tensors(top)) return top;
  std::string entry = options.entry();
  if (entry.empty()) entry = top.find("ema") != nullptr ? "ema" : "model";
  const io::Value* found = top.find(entry);
  if (found == nullptr) fail(path, "has no entry '" + entry + "'; entries present: " + join(top.string_keys(), 20));
  if (!found->is(io::Value::Kind::Dict)) {
    fail(path, "entry '" + entry + "' is a " + io::kind_name(found->kind()) + ", not a state dict");
  }
  return found->to_dict();
}

StateDict to_state_dict(const io::Dict& dict, const std::string& path) {
  StateDict state_dict;
  for (const auto& item : dict.items) {
    if (!item.first.is(io::Value::Kind::String)) fail(path, "state dict has a non-string key");
    const std::string& key = item.first.to_string();
    if (!item.second.is(io::Value::Kind::Tensor)) {
      fail(path, "state dict entry '" + key + "' is a " + io::kind_name(item.second.kind()) + ", not a tensor");
    }
    if (state_dict.contains(key)) fail(path, "state dict repeats key '" + key + "'");
    state_dict.insert(key, item.second.to_tensor());
  }
  return state_dict;
}

// DistributedDataParallel saves its wrapped module's keys as "module.<key>".
StateDict strip_module_prefix(StateDict state_dict) {
  const std::string prefix = "module.";
  for (const auto& item : state_dict) {
    if (item.key().compare(0, prefix.size(), prefix) != 0) return state_dict;
  }
  StateDict stripped;
  for (const auto& item : state_dict) stripped.insert(item.key().substr(prefix.size()), item.value());
  return stripped;
}

}  // namespace

StateDict state_dict_from_value(const io::Value& value, const std::string& source) {
  if (!value.is(io::Value::Kind::Dict)) {
    fail(source, std::string("holds a ") + io::kind_name(value.kind()) + ", not a state dict");
  }
  return strip_module_prefix(to_state_dict(value.to_dict(), source));
}

Checkpoint read_checkpoint(const std::string& path, const ReadOptions& options) {
  std::vector<uint8_t> head;
  {
    io::detail::InputFile file(path);
    if (file.size() == 0) fail(path, "empty file, not a checkpoint");
    head = file.read(0, std::min<uint64_t>(file.size(), 9), "file header");
    if (!is_torch_save(head) && !is_safetensors(head, file.size())) {
      throw FileError(path, "not a checkpoint (neither a torch.save zip archive nor safetensors)");
    }
  }
  Checkpoint checkpoint;
  if (!is_torch_save(head)) {
    auto file = io::read_safetensors(path);
    checkpoint.state_dict = strip_module_prefix(file.tensors);
    checkpoint.metadata = file.metadata;
    return checkpoint;
  }
  const io::Value root = io::torch_load(path);
  checkpoint.state_dict = strip_module_prefix(to_state_dict(select_state_dict(root, options, path), path));
  if (const io::Value* args = root.to_dict().find("args")) checkpoint.args = *args;
  return checkpoint;
}

StateDict read_state_dict(const std::string& path, const ReadOptions& options) {
  return read_checkpoint(path, options).state_dict;
}

void load_state_dict(torch::nn::Module& module, const StateDict& state_dict, const std::string& source) {
  StateDict targets = module.named_parameters(/*recurse=*/true);
  for (const auto& buffer : module.named_buffers(/*recurse=*/true)) targets.insert(buffer.key(), buffer.value());
  std::vector<std::string> missing, unexpected;
  for (const auto& target : targets) {
    if (!state_dict.contains(target.key())) missing.push_back(target.key());
  }
  for (const auto& item : state_dict) {
    if (!targets.contains(item.key())) unexpected.push_back(item.key());
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string problem = "state dict does not match the model:";
    if (!missing.empty()) problem += " missing keys: " + join(missing, 5) + ";";
    if (!unexpected.empty()) problem += " unexpected keys: " + join(unexpected, 5) + ";";
    problem.pop_back();
    fail(source, problem);
  }
  for (const auto& target : targets) {
    const torch::Tensor& value = state_dict[target.key()];
    if (value.sizes() != target.value().sizes()) {
      fail(source, "shape mismatch for '" + target.key() + "': checkpoint has " + shape_text(value.sizes()) +
                       ", model expects " + shape_text(target.value().sizes()));
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& target : targets) target.value().copy_(state_dict[target.key()]);
}

StateDict state_dict(const torch::nn::Module& module) {
  StateDict result;
  for (const auto& parameter : module.named_parameters(/*recurse=*/true)) {
    result.insert(parameter.key(), parameter.value().detach());
  }
  for (const auto& buffer : module.named_buffers(/*recurse=*/true)) result.insert(buffer.key(), buffer.value().detach());
  return result;
}

io::Value state_dict_value(const StateDict& state_dict) {
  io::Value value = io::Value::dict(/*ordered=*/true);
  for (const auto& item : state_dict) value.to_dict().items.emplace_back(io::Value::string(item.key()), io::Value::tensor(item.value()));
  return value;
}

void save_state_dict(const StateDict& state_dict, const std::string& path,
                     const std::map<std::string, std::string>& metadata) {
  if (ends_with(path, ".safetensors")) {
    io::write_safetensors(path, state_dict, metadata);
  } else {
    io::torch_save(state_dict_value(state_dict), path);
  }
}

}  // namespace sit::io
