// bf16 on CPU: the detection of bf16 matmul instructions, and the error of a bf16 autocast
// forward against fp32.
#include "support/catch_torch.h"
#include <sit/nn/precision.h>
#include <sit/nn/sit.h>

#include <string>

#include "support/machine.h"
#include "support/relative_l2.h"
#include "support/skip.h"

TEST_CASE("cpu_has_bf16_matmul agrees with the kernel's CPU flags", "[nn]") {
#if defined(__linux__) && defined(__x86_64__)
  const auto flags = sit::test::cpu_flags();
  REQUIRE_FALSE(flags.empty());
  const bool listed = flags.find(" avx512_bf16 ") != std::string::npos || flags.find(" amx_bf16 ") != std::string::npos;
  INFO("flags:" << flags);
  CHECK(sit::nn::cpu_has_bf16_matmul() == listed);
#else
  SIT_SKIP("not Linux on x86-64: /proc/cpuinfo's flags are not there to compare with");
#endif
}

TEST_CASE("a bf16 autocast forward on CPU is within 2% of fp32", "[nn]") {
  torch::manual_seed(0);
  sit::nn::SiT model(sit::nn::SiTOptions().input_size(8).patch_size(2).in_channels(4).hidden_size(64).depth(2)
                         .num_heads(4).num_classes(10));
  {
    torch::NoGradGuard no_grad;  // the official initialisation zeroes the output layer: redraw all
    for (auto& item : model->named_parameters()) {
      if (item.key() != "pos_embed") item.value().normal_(0.0, 0.05);
    }
  }
  model->eval();
  auto x = torch::randn({4, 4, 8, 8});
  auto t = torch::rand({4});
  auto y = torch::tensor({0, 3, 5, 9});
  torch::NoGradGuard no_grad;
  auto fp32 = model->forward(x, t, y);
  torch::Tensor bf16;
  {
    sit::nn::AutocastGuard autocast(torch::kCPU, sit::nn::Precision::BF16);
    bf16 = model->forward(x, t, y).to(torch::kFloat32);
  }
  const double error = sit::test::relative_l2(bf16, fp32);
  INFO("relative L2 error " << error);
  // bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2%); through two blocks of
  // matmuls the output's error is measured at about 0.5%.
  CHECK(error > 0);  // autocast did run the matmuls in bf16
  CHECK(error < 2e-2);
  auto again = model->forward(x, t, y);  // the guard is gone: fp32 again
  CHECK(torch::equal(again, fp32));
}
