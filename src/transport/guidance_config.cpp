#include <sit/transport/guidance_config.h>

namespace sit::transport {

void GuidanceConfig::validate() const {
  config::require(cfg_scale >= 0, "cfg_scale", config::text(cfg_scale), "must not be negative");
  const bool pair = cfg_interval.size() == 2;
  config::require(pair && 0 <= cfg_interval[0] && cfg_interval[0] < cfg_interval[1] && cfg_interval[1] <= 1,
                  "cfg_interval", config::text(cfg_interval),
                  "expected lo,hi with 0 <= lo < hi <= 1");
  if (zero_init_steps) {
    config::require(*zero_init_steps >= 0, "zero_init_steps", std::to_string(*zero_init_steps),
                    "must not be negative");
  }
  config::require(0 <= guidance_rescale && guidance_rescale <= 1, "guidance_rescale",
                  config::text(guidance_rescale), "expected phi in [0, 1]");
  const std::string unguided = "needs guidance, which --cfg-scale " + config::text(cfg_scale) + " turns off (give > 1)";
  config::require(!cfg_zero_star || guided(), "cfg_zero_star", "", unguided);
  if (zero_init_steps && *zero_init_steps > 0) {
    config::require(guided(), "zero_init_steps", std::to_string(*zero_init_steps), unguided);
  }
  if (guidance_rescale > 0) config::require(guided(), "guidance_rescale", config::text(guidance_rescale), unguided);
}

void GuidanceConfig::validate_for(ModelType prediction) const {
  if (zero_init_calls() == 0 || prediction == ModelType::Velocity) return;
  const std::string problem = "zero-init returns a zero velocity, but this model predicts " +
                              config::enum_name(prediction) + " (velocity models only)";
  if (zero_init_steps) config::require(false, "zero_init_steps", std::to_string(*zero_init_steps), problem);
  config::require(false, "cfg_zero_star", "", problem + "; give --zero-init-steps 0 for the optimised scale alone");
}

std::optional<GuidanceOptions> GuidanceConfig::options(int64_t null_label) const {
  validate();
  if (!guided()) return std::nullopt;
  return GuidanceOptions(cfg_scale, null_label)
      .guided_channels(guide_all_channels ? GuidedChannels::All : GuidedChannels::FirstThree)
      .t_lo(cfg_interval[0])
      .t_hi(cfg_interval[1])
      .optimized_scale(cfg_zero_star)
      .zero_init_steps(zero_init_calls())
      .guidance_rescale(guidance_rescale);
}

}  // namespace sit::transport
