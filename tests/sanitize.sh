#!/usr/bin/env bash
# The sanitizer check: builds the library, the unit tests and the fuzz harnesses with
# AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer) in build-sanitize, runs the unit
# tests and the fuzz corpus replays there (any report fails the run), then fuzzes every harness
# for a few seconds (tests/fuzz/smoke.sh). Uses clang-14 when it is installed with libFuzzer,
# else gcc (then the fuzz smoke step is skipped, with a line saying so).
#   tests/sanitize.sh [SECONDS_PER_HARNESS]     (default 8; the build dir: $SIT_SANITIZE_BUILD)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SIT_SANITIZE_BUILD:-$root/build-sanitize}
seconds=${1:-8}
start=$(date +%s)
# clang-14 and its runtime (libFuzzer, the sanitizers) when they can be installed; g++ else.
"$root/cmake/install-deps.sh" clang-14 libclang-rt-14-dev ||
  echo "sanitize.sh: clang-14 is not installed; the sanitizer build uses g++"

# clang with libFuzzer: a one-line program must link with -fsanitize=fuzzer.
fuzz=OFF
compilers=(-DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++)
debug_info=-g1
if command -v clang++-14 > /dev/null; then
  probe=$(mktemp -d)
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe/probe.cpp"
  if clang++-14 -fsanitize=fuzzer "$probe/probe.cpp" -o "$probe/probe" 2> /dev/null; then
    fuzz=ON
    compilers=(-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14)
    debug_info=-gline-tables-only
  fi
  rm -rf "$probe"
fi

mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${compilers[@]}" \
  -DCMAKE_CXX_FLAGS="$debug_info" -DSIT_SANITIZE=address,undefined -DSIT_FUZZ=$fuzz \
  -DSIT_BUILD_TESTS=ON -DSIT_BUILD_EXAMPLES=OFF > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }

# The unit tests of the components and the fuzz replays. Left out: train (534 s alone under
# ASan+UBSan on 2 cores; it passed with no report), parity and install (whole fixtures, a
# consumer project), cuda (skips without a GPU).
labels='nn|config|runtime|io|transport|data|vae|eval|fuzz'
tests=(test_nn test_config test_runtime test_io test_transport test_data test_vae test_eval)
for test in "${tests[@]}"; do tests+=("${test}_cases"); done  # ctest's list of each program's cases
. "$root/tests/fuzz/harnesses.sh"
for harness in $SIT_FUZZ_HARNESSES; do
  tests+=("replay_$harness")
  [[ $fuzz == ON ]] && tests+=("fuzz_$harness")
done
cmake --build "$build" -j"$(nproc)" --target "${tests[@]}"
built=$(date +%s)

sit_fuzz_environment
ctest --test-dir "$build" -L "$labels" -LE 'train|parity|install|cuda' --output-on-failure -j"$(nproc)"
tested=$(date +%s)

if [[ $fuzz == ON ]]; then
  "$root/tests/fuzz/smoke.sh" "$build" "$seconds"
else
  echo "fuzz smoke skipped: clang-14 with libFuzzer (Debian: clang-14 libclang-rt-14-dev) is not installed"
fi
end=$(date +%s)
echo "sanitize.sh: build $((built - start)) s, unit tests and replays $((tested - built)) s, fuzz smoke $((end - tested)) s"
