#!/usr/bin/env bash
# Long fuzzing: every harness of BUILD_DIR (configured with -DSIT_FUZZ=ON) for HOURS (default 4),
# JOBS harnesses at a time (default: the number of cores), each growing its own corpus in
# OUT_DIR/<harness>/corpus (seeded from tests/fuzz/corpus and regressions). Findings land in
# OUT_DIR/<harness>/artifacts; copy each into tests/fuzz/regressions/<harness>/ with its fix.
# Ends with a table of executions, corpus size and findings per harness.
# SIT_FUZZ_ONLY="image torch_load" runs those harnesses alone.
#   tests/fuzz/long_run.sh BUILD_DIR [HOURS] [JOBS] [OUT_DIR]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: long_run.sh BUILD_DIR [HOURS] [JOBS] [OUT_DIR]}
hours=${2:-4}
jobs=${3:-$(nproc)}
out=${4:-$build/fuzz-long}
. "$here/harnesses.sh"
sit_fuzz_environment
harnesses=(${SIT_FUZZ_ONLY:-$SIT_FUZZ_HARNESSES})
# Each harness gets an equal share of the time the jobs give: hours x jobs / harnesses.
seconds=$(awk -v h="$hours" -v j="$jobs" -v n="${#harnesses[@]}" 'BEGIN { printf "%d", h * 3600 * j / n }')
echo "long run: ${#harnesses[@]} harnesses, $jobs at a time, $seconds s each, into $out"

run_one() {
  local harness=$1 dir="$out/$1" dict=()
  mkdir -p "$dir/corpus" "$dir/artifacts"
  sit_fuzz_dict "$harness" "$dir/dict"
  [[ -s "$dir/dict" ]] && dict=(-dict="$dir/dict")
  local seeds=("$here/corpus/$harness")
  [[ -d "$here/regressions/$harness" ]] && seeds+=("$here/regressions/$harness")
  # -fork keeps fuzzing past a finding (each crash is written to artifacts) until the time is up.
  "$build/tests/fuzz/fuzz_$harness" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$dir/artifacts/" "$dir/corpus" "${seeds[@]}" \
    > "$dir/log" 2>&1
}

running=0
for harness in "${harnesses[@]}"; do
  run_one "$harness" &
  running=$((running + 1))
  if [[ $running -ge $jobs ]]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

printf '%-14s %14s %8s %9s\n' harness executions corpus findings
for harness in "${harnesses[@]}"; do
  dir="$out/$harness"
  # With -fork the parent prints "#N ... exec/s" lines; the last one counts every child's runs.
  runs=$(grep -oE '^#[0-9]+' "$dir/log" | tail -1 | tr -d '#')
  printf '%-14s %14s %8s %9s\n' "$harness" "${runs:-?}" "$(ls "$dir/corpus" | wc -l)" "$(ls "$dir/artifacts" | wc -l)"
done
