// Builds a small SiT from the installed package and checks one forward's shape.
#include <sit/nn/sit.h>

#include <iostream>

int main() {
  sit::nn::SiT model(sit::nn::SiTOptions().input_size(8).patch_size(4).in_channels(1)
                         .hidden_size(32).depth(1).num_heads(2).num_classes(3));
  model->eval();
  auto out = model->forward(torch::randn({2, 1, 8, 8}), torch::rand({2}), torch::tensor({0, 2}));
  if (out.sizes() != torch::IntArrayRef({2, 1, 8, 8})) {
    std::cerr << "unexpected output shape " << out.sizes() << "\n";
    return 1;
  }
  std::cout << "consumer ok: " << model << "\n";
  return 0;
}
