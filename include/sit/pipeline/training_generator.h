#pragma once
// The samples of a training run: its EMA model sampled as sit-train's grids and --eval-every do,
// with the run's ODE sampler (RunConfig::sampler: --num-sampling-steps, --sampling-method, ...) and
// guidance (RunConfig::guidance, off for a model trained without label dropout), decoded by its VAE.

#include <sit/pipeline/generator.h>
#include <sit/train/trainer.h>

namespace sit::pipeline {

/// A Generator of the trainer's EMA model (the live module, not a copy: it samples the weights
/// of the moment).
Generator training_generator(const train::Trainer& trainer);

}  // namespace sit::pipeline
