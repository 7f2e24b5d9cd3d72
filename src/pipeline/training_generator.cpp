#include <sit/pipeline/training_generator.h>

namespace sit::pipeline {

Generator training_generator(const train::Trainer& trainer) {
  const auto& config = trainer.config();
  transport::SamplerOptions sampler;
  sampler.ode_method(config.run.sample_method);
  sampler.num_steps(config.run.sample_steps);
  transport::GuidanceOptions guidance;
  guidance.cfg_scale(trainer.ema()->options.class_dropout_prob() > 0 ? config.run.cfg_scale : 1.0);
  return Generator(trainer.ema(), config.transport, trainer.vae(),
                   GeneratorOptions()
                       .sampler(sampler)
                       .guidance(guidance)
                       .vae(config.data.vae)  // its slices; the VAE itself is the trainer's
                       .device(trainer.device())
                       .precision(config.runtime.precision)
                       .batch_size(100));  // a grid (80) or an evaluation chunk in one run
}

}  // namespace sit::pipeline
