#pragma once
// What our programs print: the one-line error of bad input, and sit-train's loss lines.

#include <algorithm>
#include <cstdint>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "support/catch_torch.h"
#include "support/files.h"
#include "support/process.h"

namespace sit::test {

// One of our one-line errors: exit status 1, "<program>: error: ..." naming each of `parts`.
inline void check_error(const Output& out, const std::string& program, const std::vector<std::string>& parts) {
  INFO(out.text);
  CHECK(out.status == 1);
  CHECK_THAT(out.text, Catch::StartsWith(program + ": error: "));
  CHECK(std::count(out.text.begin(), out.text.end(), '\n') == 1);
  for (const auto& part : parts) CHECK_THAT(out.text, Catch::Contains(part));
}

// The "(step=0000005) Train Loss: 1.2345" lines of sit-train's log.txt or console: every (step,
// loss as printed), in order (a step redone after a kill is there twice).
inline std::vector<std::pair<int64_t, std::string>> logged_losses(const std::string& log) {
  std::vector<std::pair<int64_t, std::string>> losses;
  const auto text = read_text(log);
  const std::regex line("\\(step=(\\d+)\\) Train Loss: ([0-9.]+)");
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) {
    losses.emplace_back(std::stoll((*it)[1]), (*it)[2]);
  }
  return losses;
}

}  // namespace sit::test
