#pragma once
// The public API takes std::optional generators; LibTorch 1.13's factories take c10::optional
// (the same type from LibTorch 2.x on).

#include <torch/torch.h>

#include <optional>

namespace sit::transport::detail {

inline c10::optional<at::Generator> to_c10(const std::optional<torch::Generator>& generator) {
  if (generator) return c10::optional<at::Generator>(*generator);
  return c10::nullopt;
}

}  // namespace sit::transport::detail
