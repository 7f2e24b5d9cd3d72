#include "progress_bar.h"

#include <fmt/core.h>

#include <unistd.h>

namespace sit::examples {

ProgressBar::ProgressBar(std::FILE* out) : out_(out), terminal_(isatty(fileno(out)) != 0) {}

void ProgressBar::show(int64_t done, int64_t total, const std::string& detail) {
  if (!terminal_) return;
  const int64_t width = 30;
  const int64_t filled = total > 0 ? width * done / total : width;
  fmt::print(out_, "\r[{}{}] {}/{} {}", std::string(filled, '#'), std::string(width - filled, '.'), done, total,
             detail);
  std::fflush(out_);
  shown_ = true;
}

void ProgressBar::clear() {
  if (shown_) fmt::print(out_, "\r\033[K");
  shown_ = false;
}

void ProgressBar::finish() {
  if (shown_) fmt::print(out_, "\n");
  shown_ = false;
}

}  // namespace sit::examples
