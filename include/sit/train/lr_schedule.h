#pragma once
// Learning-rate schedules. The official train.py keeps lr constant; short runs (the Fashion-MNIST
// quick start) learn faster with a linear warm-up and a cosine decay to a floor.

#include <sit/config/enum_names.h>
#include <torch/arg.h>

#include <cstdint>
#include <string>

namespace sit::train {

enum class LrSchedule { Constant, Cosine };

constexpr auto enum_table(LrSchedule) {
  return config::EnumTable<LrSchedule, 2>{"learning-rate schedule", {{{LrSchedule::Constant, "constant"}, {LrSchedule::Cosine, "cosine"}}}};
}

struct LrScheduleOptions {
  TORCH_ARG(LrSchedule, schedule) = LrSchedule::Constant;
  TORCH_ARG(double, lr) = 1e-4;
  /// Steps of linear warm-up from lr / warmup_steps to lr (0: none).
  TORCH_ARG(int64_t, warmup_steps) = 0;
  /// Cosine: the step at which lr reaches min_lr, and stays there.
  TORCH_ARG(int64_t, total_steps) = 0;
  TORCH_ARG(double, min_lr) = 0.0;
};

/// The learning rate of step `step` (counted from 0).
double learning_rate(const LrScheduleOptions& options, int64_t step);

}  // namespace sit::train
