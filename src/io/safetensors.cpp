#include <sit/io/safetensors.h>

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "io/byte_reader.h"
#include "io/file.h"

namespace sit::io {
namespace {

using Json = nlohmann::ordered_json;

struct SafetensorsType {
  const char* name;
  torch::Dtype dtype;
};

const SafetensorsType kTypes[] = {
    {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16}, {"F64", torch::kFloat64},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},     {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

// The reference implementation refuses headers above 100 MB; so do we, before allocating one.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
constexpr uint64_t kSafetensorsHeaderAlignment = 8;

// One tensor's header entry; `begin` and `end` are offsets into the data section.
struct TensorEntry {
  std::string name;
  torch::Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

torch::Dtype dtype_of(const std::string& name, const std::string& tensor, const std::string& path) {
  for (const SafetensorsType& type : kTypes) {
    if (name == type.name) return type.dtype;
  }
  detail::fail(path, "tensor '" + tensor + "' has unsupported dtype '" + name + "'");
}

const char* name_of(torch::Dtype dtype, const std::string& path) {
  for (const SafetensorsType& type : kTypes) {
    if (dtype == type.dtype) return type.name;
  }
  detail::fail(path, std::string("cannot write dtype ") + c10::toString(dtype) + " to safetensors");
}

TensorEntry parse_entry(const std::string& name, const Json& info, const std::string& path) {
  const std::string where = "tensor '" + name + "': ";
  const auto is_index = [](const Json& j) { return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0); };
  if (!info.is_object() || !info.contains("dtype") || !info["dtype"].is_string() || !info.contains("shape") ||
      !info["shape"].is_array() || !info.contains("data_offsets") || !info["data_offsets"].is_array() ||
      info["data_offsets"].size() != 2 || !is_index(info["data_offsets"][0]) || !is_index(info["data_offsets"][1])) {
    detail::fail(path, where + "header entry needs \"dtype\", \"shape\" and two \"data_offsets\"");
  }
  TensorEntry entry{name, dtype_of(info["dtype"].get<std::string>(), name, path), {},
                    info["data_offsets"][0].get<uint64_t>(), info["data_offsets"][1].get<uint64_t>()};
  uint64_t bytes = c10::elementSize(entry.dtype);
  for (const Json& dim : info["shape"]) {
    if (!is_index(dim)) detail::fail(path, where + "shape holds a non-integer or negative");
    const uint64_t size = dim.get<uint64_t>();
    if (size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (size != 0 && bytes > std::numeric_limits<uint64_t>::max() / size)) {
      detail::fail(path, where + "shape overflows");
    }
    entry.shape.push_back(static_cast<int64_t>(size));
    bytes *= size;
  }
  if (entry.end < entry.begin || entry.end - entry.begin != bytes) {
    detail::fail(path, where + "data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                           ") do not span its " + std::to_string(bytes) + " bytes (dtype x shape)");
  }
  return entry;
}

// Each tensor's bytes must follow the previous one's, from 0 to the end of the data section.
void check_tiling(std::vector<TensorEntry> entries, uint64_t data_size, const std::string& path) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) { return a.begin < b.begin; });
  uint64_t expected = 0;
  for (const TensorEntry& entry : entries) {
    if (entry.begin != expected) {
      detail::fail(path, "tensor '" + entry.name + "' data starts at " + std::to_string(entry.begin) + ", expected " +
                             std::to_string(expected) + " (data ranges overlap or leave a gap)");
    }
    expected = entry.end;
  }
  if (expected != data_size) {
    detail::fail(path, "data section has " + std::to_string(data_size) + " bytes but the tensors cover " +
                           std::to_string(expected));
  }
}

// The parsed header; *data_start receives the file offset of the data section.
Json read_header(detail::InputFile& file, uint64_t* data_start) {
  if (file.size() < 8) {
    detail::fail(file.path(), std::to_string(file.size()) + " bytes, too short for safetensors (an 8-byte header length, then the header)");
  }
  const std::vector<uint8_t> length_bytes = file.read(0, 8, "header length");
  detail::ByteReader length_reader(length_bytes.data(), length_bytes.size(), file.path());
  const uint64_t header_size = length_reader.u64("header length");
  if (header_size > kMaxHeaderSize || header_size > file.size() - 8) {
    detail::fail(file.path(), "header length " + std::to_string(header_size) + " exceeds the file (" +
                                  std::to_string(file.size()) + " bytes) or 100 MB");
  }
  const std::vector<uint8_t> text = file.read(8, header_size, "header");
  Json header = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) detail::fail(file.path(), "header is not valid JSON");
  if (!header.is_object()) detail::fail(file.path(), "header is not a JSON object");
  *data_start = 8 + header_size;
  return header;
}

std::map<std::string, std::string> parse_metadata(const Json& metadata, const std::string& path) {
  if (!metadata.is_object()) detail::fail(path, "__metadata__ is not a JSON object");
  std::map<std::string, std::string> result;
  for (const auto& item : metadata.items()) {
    if (!item.value().is_string()) detail::fail(path, "__metadata__ value of '" + item.key() + "' is not a string");
    result[item.key()] = item.value().get<std::string>();
  }
  return result;
}

}  // namespace

Safetensors read_safetensors(const std::string& path) {
  detail::InputFile file(path);
  uint64_t data_start = 0;
  const Json header = read_header(file, &data_start);
  Safetensors result;
  std::vector<TensorEntry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") result.metadata = parse_metadata(item.value(), path);
    else entries.push_back(parse_entry(item.key(), item.value(), path));
  }
  check_tiling(entries, file.size() - data_start, path);
  for (const TensorEntry& entry : entries) {
    torch::Tensor tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(entry.dtype));
    file.read(data_start + entry.begin, tensor.data_ptr(), entry.end - entry.begin, "data of '" + entry.name + "'");
    if (entry.dtype == torch::kBool && tensor.view(torch::kUInt8).gt(1).any().item<bool>()) {
      detail::fail(path, "bool tensor '" + entry.name + "' holds a byte other than 0 or 1");
    }
    result.tensors.insert(entry.name, std::move(tensor));
  }
  return result;
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  detail::InputFile file(path);
  uint64_t data_start = 0;
  const Json header = read_header(file, &data_start);
  auto metadata = header.find("__metadata__");
  return metadata == header.end() ? std::map<std::string, std::string>() : parse_metadata(*metadata, path);
}

void write_safetensors(const std::string& path, const torch::OrderedDict<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::string> names = tensors.keys();
  std::sort(names.begin(), names.end());
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const std::string& name : names) {
    const torch::Tensor tensor = tensors[name].detach().to(torch::kCPU).contiguous();
    header[name] = {{"dtype", name_of(tensor.scalar_type(), path)},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + tensor.nbytes()}}};
    offset += tensor.nbytes();
    data.push_back(tensor);
  }
  std::string text = header.dump();
  text.append((kSafetensorsHeaderAlignment - text.size() % kSafetensorsHeaderAlignment) % kSafetensorsHeaderAlignment, ' ');
  std::string length;
  detail::append_u64(length, text.size());
  detail::AtomicFile file(path);
  file.write(length + text);
  for (const torch::Tensor& tensor : data) file.write(tensor.data_ptr(), tensor.nbytes());
  file.commit();
}

}  // namespace sit::io
