#!/usr/bin/env bash
# The test command: installs what is missing, builds everything and runs the whole suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# python3-torch and python3-numpy let the Python interoperability tests run instead of skipping.
"$root/cmake/install-deps.sh" python3-torch python3-numpy
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIT_BUILD_TESTS=ON -DSIT_BUILD_EXAMPLES=ON
cmake --build "$root/build" -j"$(nproc)"
# Each Catch2 case is a test of its own, spread over the cores; a case that cannot run on this
# machine is listed at the end as skipped (exit 77, tests/support/skip.h).
ctest --test-dir "$root/build" --output-on-failure -j"$(nproc)" | tee "$root/build/ctest.txt"
total=$(sed -n 's/.* tests failed out of \([0-9]*\)$/\1/p' "$root/build/ctest.txt")
skipped=$(grep -c '(Skipped)$' "$root/build/ctest.txt" || true)
echo "tests/run.sh: $((total - skipped)) passed, 0 failed, $skipped skipped (listed above)"
