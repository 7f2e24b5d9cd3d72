// Writes the load_sit harness's seeds into the directory given: a tiny SiT (input 4, patch 2,
// 1 channel, hidden 8, depth 1, 2 classes) as torch.save (tiny_sit.pt) and safetensors
// (tiny_sit.safetensors), a few kilobytes each, so the fuzzer starts from a checkpoint that loads.
#include <cstdio>
#include <filesystem>

#include <sit/io/state_dict.h>
#include <sit/nn/sit.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);
  sit::nn::SiT model(sit::nn::SiTOptions()
                         .input_size(4)
                         .patch_size(2)
                         .in_channels(1)
                         .hidden_size(8)
                         .depth(1)
                         .num_heads(1)
                         .mlp_ratio(1.0)
                         .num_classes(2));
  const sit::io::StateDict weights = sit::io::state_dict(*model);
  sit::io::save_state_dict(weights, (out / "tiny_sit.pt").string());
  sit::io::save_state_dict(weights, (out / "tiny_sit.safetensors").string());
  return 0;
}
