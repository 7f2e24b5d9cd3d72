#include <sit/pipeline/training_generator.h>

namespace sit::pipeline {

Generator training_generator(const train::Trainer& trainer) {
  const auto& config = trainer.config();
  // A model trained without label dropout has no null label to guide with.
  const auto guidance = trainer.ema()->options.class_dropout_prob() > 0 ? config.run.guidance
                                                                        : transport::GuidanceOptions().cfg_scale(1.0);
  return Generator(trainer.ema(), config.transport, trainer.vae(),
                   GeneratorOptions()
                       .sampler(config.run.sampler)
                       .guidance(guidance)
                       .vae(config.data.vae)  // its slices; the VAE itself is the trainer's
                       .device(trainer.device())
                       .precision(config.runtime.precision)
                       .batch_size(100));  // a grid (80) or an evaluation chunk in one run
}

}  // namespace sit::pipeline
