#pragma once
// Exponential moving average of the weights (train.py's update_ema).

#include <torch/torch.h>

namespace sit::train {

/// ema <- decay * ema + (1 - decay) * model, for every parameter and buffer, matched by name; one
/// multi-tensor operation over all of them rather than a loop of small kernels.
/// decay = 0 copies the model (train.py starts the EMA that way).
void update_ema(torch::nn::Module& ema, const torch::nn::Module& model, double decay);

}  // namespace sit::train
