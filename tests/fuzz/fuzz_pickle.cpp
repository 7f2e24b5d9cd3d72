// The pickle machine on its own. Persistent ids resolve to a 16-element float storage, so
// _rebuild_tensor_v2's offset, size and stride checks are reached without a zip archive; every
// tensor of the result is summed (stride-0 views of more than 1024 elements are left alone: they
// are valid, only slow to sum), which reads each element a view claims.
#include "io/pickle.h"

#include "fuzz_input.h"

namespace {

void touch(const sit::io::Value& value) {
  using Kind = sit::io::Value::Kind;
  switch (value.kind()) {
    case Kind::Tensor:
      if (value.to_tensor().numel() <= 1024) value.to_tensor().sum();
      break;
    case Kind::List:
    case Kind::Tuple:
      for (const sit::io::Value& item : value.items()) touch(item);
      break;
    case Kind::Dict:
      for (const auto& item : value.to_dict().items) {
        touch(item.first);
        touch(item.second);
      }
      break;
    case Kind::Object:
      for (const sit::io::Value& item : value.to_object().args) touch(item);
      touch(value.to_object().state);
      break;
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto storage = [](const sit::io::Value&) { return sit::io::Value::tensor(torch::zeros({16})); };
  sit::fuzz::expect_clean([&] { touch(sit::io::unpickle(data, size, "fuzz.pkl", storage)); });
  return 0;
}
