#pragma once
// Exponential moving average of the weights (train.py's update_ema).

#include <sit/nn/sit.h>

#include <torch/torch.h>

namespace sit::train {

/// ema <- decay * ema + (1 - decay) * model, for every parameter and buffer, matched by name; one
/// multi-tensor operation over all of them rather than a loop of small kernels.
/// decay = 0 copies the model (train.py starts the EMA that way).
void update_ema(torch::nn::Module& ema, const torch::nn::Module& model, double decay);

/// The EMA model train.py starts from: a deep copy of `model` on its device, without gradients, in
/// eval mode. (clone(device) would not do: weights on cuda:0 under a device "cuda", which differs,
/// would be moved by to("cuda"), which returns them: the EMA would alias the model.)
nn::SiT make_ema(const nn::SiT& model);

}  // namespace sit::train
