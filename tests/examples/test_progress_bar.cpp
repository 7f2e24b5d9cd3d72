// The programs' progress bar (examples/common/progress_bar.h), which sit-train and
// sit-extract-latents draw: on a terminal (a pseudo-terminal here) and nowhere else.

#include "progress_bar.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <pty.h>
#include <string>
#include <termios.h>
#include <unistd.h>

namespace progress_bar_test {

// A pseudo-terminal passing bytes unchanged (raw: no "\n" to "\r\n"); `out` writes to it.
struct Terminal {
  int master = -1;
  std::FILE* out = nullptr;

  Terminal() {
    int slave = -1;
    REQUIRE(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
    termios raw{};
    REQUIRE(tcgetattr(slave, &raw) == 0);
    cfmakeraw(&raw);
    REQUIRE(tcsetattr(slave, TCSANOW, &raw) == 0);
    out = fdopen(slave, "w");
    REQUIRE(out != nullptr);
  }
  ~Terminal() { close(master); }

  // Closes the writing side and returns all it wrote (a read past it fails with EIO).
  std::string written() {
    std::fclose(out);
    std::string text;
    char buffer[256];
    for (ssize_t n; (n = read(master, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
    return text;
  }
};

}  // namespace progress_bar_test

TEST_CASE("the progress bar is redrawn in place on a terminal, erased for a line, ended by finish", "[cli]") {
  progress_bar_test::Terminal terminal;
  sit::examples::ProgressBar bar(terminal.out);
  bar.show(3, 12, "loss 0.5000");
  bar.show(4, 12, "loss 0.4000");
  bar.clear();
  std::fputs("a log line\n", terminal.out);
  bar.clear();  // nothing to erase
  bar.show(12, 12, "images, shard 2/2");
  bar.finish();
  bar.finish();  // the line is ended once
  CHECK(terminal.written() == "\r[#######.......................] 3/12 loss 0.5000"
                              "\r[##########....................] 4/12 loss 0.4000"
                              "\r\033[Ka log line\n"
                              "\r[##############################] 12/12 images, shard 2/2\n");
}

TEST_CASE("the progress bar draws nothing where its stream is no terminal", "[cli]") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  sit::examples::ProgressBar bar(file);
  bar.show(1, 2, "loss 1.0000");
  bar.clear();
  bar.finish();
  CHECK(std::ftell(file) == 0);
  std::fclose(file);
}
