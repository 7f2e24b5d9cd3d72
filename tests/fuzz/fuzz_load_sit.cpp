// The checkpoint-to-model path: load_sit reads a torch.save or safetensors file, infers the SiT's
// architecture from the tensors' shapes, builds the model and loads the weights (one head, so any
// hidden size is accepted).
#include <sit/nn/sit_from_state_dict.h>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sit::fuzz::scratch_path("checkpoint");
  sit::fuzz::write_bytes(path, data, size);
  sit::fuzz::expect_clean([&] { sit::nn::load_sit(path, sit::nn::ArchitectureHints().num_heads(1)); });
  return 0;
}
