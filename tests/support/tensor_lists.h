#pragma once
// Lists of tensors (a module's parameters) copied and compared exactly: what the training tests
// check of weights that must, or must not, have changed.

#include <torch/torch.h>

#include <vector>

namespace sit::test {

/// Detached copies, unaffected by later steps.
inline std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> copied;
  for (const auto& t : tensors) copied.push_back(t.detach().clone());
  return copied;
}

/// Whether the lists hold the same tensors, element for element, bit for bit.
inline bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace sit::test
