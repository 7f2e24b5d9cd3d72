#!/usr/bin/env bash
# Runs every libFuzzer harness of BUILD_DIR (configured with -DSIT_FUZZ=ON) for SECONDS each
# (default 8), on its committed corpus and regression inputs plus fresh mutations; inputs found
# stay in a scratch directory, not in the source tree. Prints one line per harness with the
# executions and the outcome, and exits non-zero when any harness found a crash, a leak, a
# sanitizer report, an allocation over the limit or a hang.
#
# Only a defect of the code may fail CI, never the machine's load. Memory limits are properties of
# the input, so they stay tight. Time is not: libFuzzer's -timeout is wall-clock time, and on a
# loaded 2-core machine under ASan a legitimate input can take seconds (the readers bound the work
# by the file's size, see README.md here). So a single input fails only past 120 s, which no
# bounded input comes near, and inputs over 2 s are listed as slow (libFuzzer's
# -report_slow_units) for a person to look at, without failing the run.
#   tests/fuzz/smoke.sh BUILD_DIR [SECONDS_PER_HARNESS]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: smoke.sh BUILD_DIR [SECONDS_PER_HARNESS]}
seconds=${2:-8}
. "$here/harnesses.sh"
sit_fuzz_environment
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for harness in $SIT_FUZZ_HARNESSES; do
  binary="$build/tests/fuzz/fuzz_$harness"
  if [[ ! -x "$binary" ]]; then
    echo "fuzz_$harness: not built (configure with -DSIT_FUZZ=ON)"
    failed=1
    continue
  fi
  mkdir -p "$work/$harness/corpus" "$work/$harness/artifacts"
  dict=()
  sit_fuzz_dict "$harness" "$work/$harness/dict"
  [[ -s "$work/$harness/dict" ]] && dict=(-dict="$work/$harness/dict")
  seeds=("$here/corpus/$harness")
  [[ -d "$here/regressions/$harness" ]] && seeds+=("$here/regressions/$harness")
  "$binary" -max_total_time="$seconds" -timeout=120 -report_slow_units=2 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len=65536 -print_final_stats=1 "${dict[@]}" -artifact_prefix="$work/$harness/artifacts/" \
    "$work/$harness/corpus" "${seeds[@]}" > "$work/$harness/log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$harness/log" | grep -o '[0-9]*$' | tail -1)
  slowest=$(grep -o '^Slowest unit: [0-9]* s' "$work/$harness/log" | grep -o '[0-9]* s$' | tail -1)
  if [[ $status -eq 0 ]]; then
    echo "fuzz_$harness: ${runs:-?} executions in ${seconds} s, no findings${slowest:+ (slowest input $slowest)}"
  else
    failed=1
    echo "fuzz_$harness: FAILED (exit $status) after ${runs:-?} executions; the report:"
    grep -E 'ERROR|SUMMARY|==[0-9]+==|runtime error|Test unit written' "$work/$harness/log" | head -20
    mkdir -p "$build/fuzz-findings/$harness"
    cp "$work/$harness/artifacts/"* "$build/fuzz-findings/$harness/" 2>/dev/null &&
      echo "  input kept in $build/fuzz-findings/$harness/"
  fi
done
exit $failed
