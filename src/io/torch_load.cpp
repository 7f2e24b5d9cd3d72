#include <sit/io/torch_load.h>

#include <cstring>
#include <unordered_map>

#include "io/pickle.h"
#include "io/zip_archive.h"

#include "io/byte_reader.h"
#include "io/file.h"

namespace sit::io {
namespace {

struct StorageType {
  const char* name;  // the class torch.save names: torch.<name>
  torch::Dtype dtype;
};

// UntypedStorage (PyTorch 2.x, for storages saved on their own) counts bytes.
const StorageType kStorageTypes[] = {
    {"FloatStorage", torch::kFloat32}, {"HalfStorage", torch::kFloat16}, {"BFloat16Storage", torch::kBFloat16},
    {"DoubleStorage", torch::kFloat64}, {"LongStorage", torch::kInt64}, {"IntStorage", torch::kInt32},
    {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},    {"ByteStorage", torch::kUInt8},
    {"BoolStorage", torch::kBool},     {"UntypedStorage", torch::kUInt8},
};

// The legacy (pre-1.6) format opens with a pickled magic number: PROTO 2, LONG1 0x1950a86a20f9469cfc6c.
const uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

void check_not_legacy(const std::string& path) {
  detail::InputFile file(path);
  if (file.size() < sizeof kLegacyMagic) return;
  const std::vector<uint8_t> head = file.read(0, sizeof kLegacyMagic, "file header");
  if (std::memcmp(head.data(), kLegacyMagic, sizeof kLegacyMagic) == 0) {
    detail::fail(path, "legacy torch.save format is not supported; re-save with "
                       "torch.save(..., _use_new_zipfile_serialization=True)");
  }
}

// The archive's top folder, from its "<prefix>/data.pkl" record ("archive/", or the file's stem).
std::string archive_prefix(const ZipReader& archive) {
  for (const ZipEntry& entry : archive.entries()) {
    const size_t slash = entry.name.find('/');
    if (slash != std::string::npos && entry.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      return entry.name.substr(0, slash + 1);
    }
  }
  detail::fail(archive.path(), "zip archive has no <folder>/data.pkl record (not a torch.save file)");
}

torch::Dtype dtype_of_storage(const Value& type, const std::string& path) {
  if (type.is(Value::Kind::Global) && type.to_object().module == "torch") {
    for (const StorageType& storage : kStorageTypes) {
      if (type.to_object().name == storage.name) return storage.dtype;
    }
    detail::fail(path, "unsupported storage type torch." + type.to_object().name);
  }
  detail::fail(path, "storage type is not a torch storage class");
}

// Resolves torch.save's persistent ids ('storage', torch.<T>Storage, key, location, numel) to the
// record <prefix>data/<key> as a 1-D CPU tensor; a storage shared by several tensors is read once.
class StorageLoader {
 public:
  StorageLoader(ZipReader& archive, std::string prefix) : archive_(archive), prefix_(std::move(prefix)) {}

  Value operator()(const Value& id) {
    const std::string& path = archive_.path();
    if (!id.is(Value::Kind::Tuple) || id.items().size() != 5 || !id.items()[0].is(Value::Kind::String) ||
        id.items()[0].to_string() != "storage" || !id.items()[2].is(Value::Kind::String) ||
        !id.items()[4].is(Value::Kind::Int)) {
      detail::fail(path, "persistent id is not ('storage', type, key, location, numel)");
    }
    const torch::Dtype dtype = dtype_of_storage(id.items()[1], path);
    const std::string& key = id.items()[2].to_string();
    const auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      if (cached->second.scalar_type() != dtype) {
        detail::fail(path, "storage '" + key + "' is referenced as two element types");
      }
      return Value::tensor(cached->second);
    }
    torch::Tensor storage = read_storage(prefix_ + "data/" + key, dtype, id.items()[4].to_int());
    storages_.emplace(key, storage);
    return Value::tensor(storage);
  }

 private:
  torch::Tensor read_storage(const std::string& name, torch::Dtype dtype, int64_t numel) {
    const ZipEntry* entry = archive_.find(name);
    if (entry == nullptr) detail::fail(archive_.path(), "missing storage record '" + name + "'");
    const uint64_t item_size = c10::elementSize(dtype);
    if (numel < 0 || entry->size % item_size != 0 || entry->size / item_size != static_cast<uint64_t>(numel)) {
      detail::fail(archive_.path(), "storage record '" + name + "' has " + std::to_string(entry->size) +
                                        " bytes, expected " + std::to_string(numel) + " x " + std::to_string(item_size));
    }
    torch::Tensor storage = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
    archive_.read_into(*entry, storage.data_ptr());
    if (dtype == torch::kBool) {
      const auto* bytes = static_cast<const uint8_t*>(storage.data_ptr());
      for (int64_t i = 0; i < numel; ++i) {
        if (bytes[i] > 1) detail::fail(archive_.path(), "bool storage '" + name + "' holds a byte other than 0 or 1");
      }
    }
    return storage;
  }

  ZipReader& archive_;
  std::string prefix_;
  std::unordered_map<std::string, torch::Tensor> storages_;
};

void check_byte_order(ZipReader& archive, const std::string& prefix) {
  const ZipEntry* entry = archive.find(prefix + "byteorder");
  if (entry == nullptr) return;  // written since PyTorch 2.1; older archives are little-endian
  const std::vector<uint8_t> order = archive.read(*entry);
  if (std::string(order.begin(), order.end()) != "little") {
    detail::fail(archive.path(), "big-endian torch.save archives are not supported");
  }
}

const char* storage_type_name(torch::Dtype dtype) {
  for (const StorageType& storage : kStorageTypes) {
    if (storage.dtype == dtype) return storage.name;
  }
  throw std::runtime_error(std::string("torch_save: unsupported dtype ") + c10::toString(dtype));
}

}  // namespace

Value torch_load(const std::string& path) {
  check_not_legacy(path);
  ZipReader archive(path);
  const std::string prefix = archive_prefix(archive);
  check_byte_order(archive, prefix);
  const std::vector<uint8_t> data = archive.read(*archive.find(prefix + "data.pkl"));
  return unpickle(data.data(), data.size(), path + ":" + prefix + "data.pkl", StorageLoader(archive, prefix));
}

void torch_save(const Value& value, const std::string& path) {
  std::vector<torch::Tensor> storages;
  const std::string data = pickle(value, [&](const torch::Tensor& tensor) {
    const torch::Tensor storage = tensor.detach().to(torch::kCPU).contiguous();
    const char* type = storage_type_name(storage.scalar_type());
    storages.push_back(storage);
    return Value::tuple({Value::string("storage"), Value::global("torch", type),
                         Value::string(std::to_string(storages.size() - 1)), Value::string("cpu"),
                         Value::integer(storage.numel())});
  });
  ZipWriter archive(path);
  archive.add("archive/data.pkl", data.data(), data.size());
  for (size_t i = 0; i < storages.size(); ++i) {
    archive.add("archive/data/" + std::to_string(i), storages[i].data_ptr(), storages[i].nbytes());
  }
  archive.add("archive/version", "3\n", 2);
  archive.add("archive/byteorder", "little", 6);
  archive.finish();
}

}  // namespace sit::io
