// The one Catch2 main of every test program: Catch's exit status (the number of failed cases), or
// sit::test::kSkipExitCode when nothing failed and a case skipped (support/skip.h).
#define CATCH_CONFIG_RUNNER
#include "support/catch_torch.h"
#include "support/skip.h"

int main(int argc, char** argv) {
  const int failed = Catch::Session().run(argc, argv);
  return failed == 0 && sit::test::skip_reported() ? sit::test::kSkipExitCode : failed;
}
