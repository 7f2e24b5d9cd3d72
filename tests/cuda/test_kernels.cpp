// sit's own CUDA kernels (src/cuda) against their CPU references, and the attention backend that
// SiT-XL/2's head width gets. Without a GPU each case reports that it skips.
#include "support/catch_torch.h"
#include "nn/layer_norm_modulate_check.h"
#include "support/skip.h"

#include <sit/nn/mlp.h>
#include <sit/nn/precision.h>
#include "train/training_draws.h"

namespace cuda_kernels_test {

TEST_CASE("layer_norm_modulate's CUDA kernels match layer_norm then modulate", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  sit::test::check_layer_norm_modulate(torch::kCUDA, 3, 5, 37);     // part warps, part row chunks
  sit::test::check_layer_norm_modulate(torch::kCUDA, 4, 256, 1152);  // SiT-XL/2: 256 tokens of 1152
}

TEST_CASE("training draws on the GPU are the CPU's numbers", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  const auto index = torch::tensor({3, 17, 0, 1 << 20}, torch::kLong);
  auto cpu = sit::train::training_draws(7, 2, index, {4, 32, 32}, 0.1, torch::kCPU, /*interval=*/true);
  auto gpu = sit::train::training_draws(7, 2, index, {4, 32, 32}, 0.1, torch::kCUDA, /*interval=*/true);
  CHECK(gpu.noise.is_cuda());
  // Times and dropout are integer arithmetic: equal. The noise goes through double log, sqrt, sin
  // and cos, which CUDA's libdevice and glibc may round differently in the last double ulp; cast
  // to float the results agree but for a rare tie, one float ulp apart.
  CHECK(torch::equal(gpu.t_uniform.cpu(), cpu.t_uniform));
  CHECK(torch::equal(gpu.drop.cpu(), cpu.drop));
  CHECK((gpu.noise.cpu() - cpu.noise).abs().max().item<double>() <= 1e-6);
  CHECK(torch::equal(gpu.interval_uniforms.cpu(), cpu.interval_uniforms));  // MeanFlow's
  CHECK((gpu.interval_normals.cpu() - cpu.interval_normals).abs().max().item<double>() <= 1e-6);
}

TEST_CASE("the MLP's inference path (GELU in the matmul epilogue) equals its training path", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  sit::nn::set_matmul_precision(sit::nn::Precision::FP32);
  torch::manual_seed(0);
  sit::nn::Mlp mlp(sit::nn::MlpOptions(64, 256));
  mlp->to(torch::kCUDA);
  const auto x = torch::randn({2, 16, 64}, torch::kCUDA);
  auto both = [&](sit::nn::Precision precision) {
    sit::nn::AutocastGuard autocast(torch::kCUDA, precision);
    auto training = mlp->forward(x);  // gradients on: bias add and GELU after the matmul
    torch::NoGradGuard no_grad;
    return std::make_pair(training.detach(), mlp->forward(x));
  };
  auto [fp32_training, fp32_inference] = both(sit::nn::Precision::FP32);
  // The same float32 sums in another cuBLAS kernel.
  CHECK(((fp32_inference - fp32_training).norm() / fp32_training.norm()).item<double>() < 1e-5);
  auto [bf16_training, bf16_inference] = both(sit::nn::Precision::BF16);
  CHECK(bf16_inference.scalar_type() == bf16_training.scalar_type());
  // bf16 inputs, and the epilogue rounds the hidden activations to bf16 once, as the GELU does.
  CHECK(((bf16_inference.to(torch::kFloat) - bf16_training.to(torch::kFloat)).norm() / bf16_training.norm())
            .item<double>() < 1e-2);
}

#if TORCH_VERSION_MAJOR >= 2
TEST_CASE("SiT-XL/2's attention (head width 72) runs a fused SDPA kernel in bf16", "[cuda]") {
  if (!torch::cuda::is_available()) SIT_SKIP("no CUDA device");
  // (N, H, T, head_dim) as SiT-XL/2's blocks call it: 16 heads of 72 on 256 tokens.
  auto q = torch::randn({8, 16, 256, 72}, torch::TensorOptions(torch::kCUDA).dtype(torch::kBFloat16));
  // ATen's choice: 0 math (unfused), 1 flash attention, 2 memory-efficient, 3 cuDNN.
  const int64_t backend = at::_fused_sdp_choice(q, q, q);
  WARN("SDPA backend at head width 72, bf16: " << backend << " (1 flash, 2 memory-efficient, 3 cuDNN)");
  CHECK(backend != 0);
}
#endif

}  // namespace cuda_kernels_test
