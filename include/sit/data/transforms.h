#pragma once
// The per-image transforms of the official train.py after the crop:
// RandomHorizontalFlip(), ToTensor(), Normalize(mean=0.5, std=0.5).

#include <random>

#include <torch/types.h>

namespace sit::data {

// RandomHorizontalFlip(p = 0.5), decided by the top bit of one draw (portable across standard
// libraries, unlike std::bernoulli_distribution).
bool draw_flip(std::mt19937_64& rng);

// (H, W, C) uint8 -> (C, H, W) float32 in [-1, 1]: x / 255 then (x - 0.5) / 0.5, in that order and
// in float32 so the values equal torchvision's bit for bit. Mirrors the image horizontally first
// when `flip`.
torch::Tensor to_model_space(const torch::Tensor& image, bool flip);

}  // namespace sit::data
