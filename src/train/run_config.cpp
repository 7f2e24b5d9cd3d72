#include <sit/train/run_config.h>

namespace sit::train {

void RunConfig::validate() const {
  config::require(!results_dir.empty(), "results_dir", "''", "must name a directory");
  config::check_ranges(*this);
  sampler.validate();
  guidance.validate();
}

}  // namespace sit::train
