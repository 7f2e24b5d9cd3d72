#!/usr/bin/env bash
# The quick start's training step (28x28x1, patch 4, depth 4, width 128, 4 heads, batch 64) on
# three OpenBLAS cores, in rounds that alternate them:
#   Prescott     OPENBLAS_CORETYPE=Prescott, the user's own: sit-bench keeps it (OpenBLAS's
#                generic kernels, what Debian 12's OpenBLAS runs on a CPU it does not know)
#   corrected    the same Prescott marked as not the user's (as tests/runtime/test_blas_core_cli.cpp
#                does): sit-bench runs itself again with the core that fits the CPU
#   detected     no OPENBLAS_CORETYPE: the core OpenBLAS picks for this CPU
# Prints a markdown row per core: the core the step ran on, each round's median ms, their median.
#
#   examples/sit-bench/blas_core.sh SIT_BENCH [ROUNDS]     (default 3 rounds; THREADS, default 2)
set -euo pipefail

if [[ $# -lt 1 ]]; then
  sed -n '11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
bench=$1 rounds=${2:-3} threads=${THREADS:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run NAME [VARIABLE=VALUE...]: one sit-bench run with only those OpenBLAS variables set; appends
# its median to $out/NAME.ms and keeps its core in $out/NAME.core.
run() {
  local name=$1
  shift
  env -u OPENBLAS_CORETYPE -u SIT_REEXEC_OPENBLAS_CORETYPE "$@" "$bench" --task train --model '' \
    --patch-size 4 --depth 4 --hidden-size 128 --num-heads 4 --input-size 28 --in-channels 1 \
    --num-classes 10 --batch-size 64 --threads "$threads" --warmup 2 --repeats 5 --json "$out/run.json" > /dev/null
  sed -n 's/^ *"median_ms": \([0-9.]*\),$/\1/p' "$out/run.json" >> "$out/$name.ms"
  sed -n 's/^ *"blas_core": "\(.*\)",$/\1/p' "$out/run.json" > "$out/$name.core"
}

for ((round = 1; round <= rounds; round++)); do
  run prescott OPENBLAS_CORETYPE=Prescott
  run corrected OPENBLAS_CORETYPE=Prescott SIT_REEXEC_OPENBLAS_CORETYPE=Prescott
  run detected
done

echo "| run | core | median ms of each round | median |"
echo "| --- | --- | --- | --- |"
for name in prescott corrected detected; do
  times=$(awk '{printf "%s%.0f", (NR > 1 ? ", " : ""), $1}' "$out/$name.ms")
  median=$(sort -n "$out/$name.ms" | awk '{v[NR] = $1} END {printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
  echo "| $name | $(cat "$out/$name.core") | $times | $median |"
done
