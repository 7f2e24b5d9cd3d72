// The CPU's vector instructions as CPUID and XCR0 say, against what Linux lists for the CPU.
#include "support/catch_torch.h"
#include <sit/runtime/cpu_features.h>

#include <string>

#include "support/machine.h"
#include "support/skip.h"

TEST_CASE("cpu_features agrees with the kernel's CPU flags", "[runtime]") {
#if defined(__linux__) && defined(__x86_64__)
  const auto flags = sit::test::cpu_flags();
  REQUIRE_FALSE(flags.empty());
  auto listed = [&](const char* flag) { return flags.find(std::string(" ") + flag + " ") != std::string::npos; };
  const auto features = sit::runtime::cpu_features();
  INFO("flags:" << flags);
  CHECK(features.avx2 == listed("avx2"));
  CHECK(features.fma == listed("fma"));
  CHECK(features.avx512 == (listed("avx512f") && listed("avx512cd") && listed("avx512bw") && listed("avx512dq") &&
                            listed("avx512vl")));
  CHECK(features.avx512_bf16 == (listed("avx512f") && listed("avx512_bf16")));
  CHECK(features.amx_bf16 == listed("amx_bf16"));
#else
  SIT_SKIP("not Linux on x86-64: /proc/cpuinfo's flags are not there to compare with");
#endif
}
