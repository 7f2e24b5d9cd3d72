#pragma once
// A one-line progress bar on a terminal, redrawn in place: "[#########.....] done/total" and what
// the program adds ("loss 0.1234", "images, shard 2/9"). Drawn only when its stream is a terminal,
// so that a log file or a pipe gets the programs' own lines alone.

#include <cstdint>
#include <cstdio>
#include <string>

namespace sit::examples {

class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out = stdout);

  /// Redraws the bar at done of total, followed by " " + `detail`.
  void show(int64_t done, int64_t total, const std::string& detail);
  /// Erases the bar, so that a line printed next takes its place.
  void clear();
  /// Ends the bar's line, so that what is printed next starts on a line of its own.
  void finish();

 private:
  std::FILE* out_;
  bool terminal_;
  bool shown_ = false;  // the bar is on the cursor's line
};

}  // namespace sit::examples
