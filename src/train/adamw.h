#pragma once
// torch::optim::AdamW's per-parameter state, and two updates of it that replace the optimizer's
// loop of about ten elementwise operations per parameter: ATen's fused multi-tensor kernel
// (PyTorch's AdamW(fused=True), CUDA) and a one-pass loop on CPU. The moments stay in the
// optimizer's state, so checkpoints stay the same.

#include <torch/optim/adamw.h>

#include <sstream>
#include <type_traits>
#include <vector>

namespace sit::train {

/// The key of `parameter` in optimizer.state(): the TensorImpl's address, printed as a string in
/// LibTorch 1.x, the address itself where the map is keyed by pointer.
template <typename StateMap>
typename StateMap::key_type parameter_key(const StateMap&, const torch::Tensor& parameter) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;
    address << parameter.unsafeGetTensorImpl();
    return address.str();
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

/// Whether this LibTorch has the fused AdamW kernel (2.1 and later; CUDA tensors).
bool fused_adamw_available();

/// One AdamW step (single parameter group, no amsgrad) over the parameters that have a gradient,
/// by the fused kernel. step_counts (one slot per parameter) keeps the kernel's float step tensors
/// between calls; an undefined slot is made from the state's step, so clear it after loading a
/// state. Throws where fused_adamw_available() is false.
void fused_adamw_step(torch::optim::AdamW& optimizer, const std::vector<torch::Tensor>& parameters,
                      std::vector<torch::Tensor>& step_counts);

/// One AdamW step (single parameter group, no amsgrad) of contiguous float32 CPU parameters, in one
/// pass over each parameter's value, gradient and moments, where optimizer.step() makes about ten.
/// The arithmetic is torch::optim::AdamW's, in the same order; they agree to float rounding.
void cpu_adamw_step(torch::optim::AdamW& optimizer, const std::vector<torch::Tensor>& parameters);

}  // namespace sit::train
