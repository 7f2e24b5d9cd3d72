// The one Catch2 main of every test program: Catch's exit status (the number of failed cases), or
// sit::test::kSkipExitCode when nothing failed and a case skipped (support/skip.h).
#define CATCH_CONFIG_RUNNER
#include "support/catch_torch.h"
#include <sit/runtime/blas_core.h>

#include "support/skip.h"

int main(int argc, char** argv) {
  // Where OpenBLAS chose generic kernels for this CPU, the test program runs itself again with the
  // matching core as sit's programs do (examples/common): the programs it starts inherit that core
  // and have nothing to say about it, so what they print is what the tests expect.
  if (const auto core = sit::runtime::openblas_core_to_run_again_with()) {
    sit::runtime::run_again_with_openblas_core(*core, argv);
  }
  const int failed = Catch::Session().run(argc, argv);
  return failed == 0 && sit::test::skip_reported() ? sit::test::kSkipExitCode : failed;
}
