#include <sit/transport/guidance_config.h>

namespace sit::transport {

void GuidanceConfig::validate() const {
  config::require(cfg_scale >= 0, "cfg_scale", config::text(cfg_scale), "must not be negative");
  const bool pair = cfg_interval.size() == 2;
  config::require(pair && 0 <= cfg_interval[0] && cfg_interval[0] < cfg_interval[1] && cfg_interval[1] <= 1,
                  "cfg_interval", config::text(cfg_interval),
                  "expected lo,hi with 0 <= lo < hi <= 1");
}

std::optional<GuidanceOptions> GuidanceConfig::options(int64_t null_label) const {
  validate();
  if (!guided()) return std::nullopt;
  return GuidanceOptions(cfg_scale, null_label)
      .guided_channels(guide_all_channels ? GuidedChannels::All : GuidedChannels::FirstThree)
      .t_lo(cfg_interval[0])
      .t_hi(cfg_interval[1]);
}

}  // namespace sit::transport
