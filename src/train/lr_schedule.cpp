#include <sit/train/lr_schedule.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sit::train {

double learning_rate(const LrScheduleOptions& options, int64_t step) {
  if (step < options.warmup_steps()) {
    return options.lr() * static_cast<double>(step + 1) / static_cast<double>(options.warmup_steps());
  }
  if (options.schedule() == LrSchedule::Constant) return options.lr();
  int64_t span = std::max<int64_t>(1, options.total_steps() - options.warmup_steps());
  double progress = std::min(1.0, static_cast<double>(step - options.warmup_steps()) / span);
  // lr(p) = min_lr + (lr - min_lr) (1 + cos(pi p)) / 2, p in [0, 1].
  return options.min_lr() + (options.lr() - options.min_lr()) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace sit::train
