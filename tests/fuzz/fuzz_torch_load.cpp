// torch_load as a whole (zip + pickle + storages into tensors), then the state-dict reading on top
// of it; every tensor of the state dict is summed, which reads each element it claims (views with
// overlapping strides, valid but possibly huge, only when no larger than their storage).
#include <sit/io/state_dict.h>
#include <sit/io/torch_load.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sit::fuzz::scratch_path("torch_load.pt");
  sit::fuzz::write_bytes(path, data, size);
  sit::fuzz::expect_clean([&] {
    const sit::io::Value root = sit::io::torch_load(path);
    for (const auto& item : sit::io::state_dict_from_value(root, path)) {
      const torch::Tensor& tensor = item.value();
      if (static_cast<size_t>(tensor.numel()) * tensor.element_size() <= tensor.storage().nbytes()) tensor.sum();
    }
  });
  return 0;
}
