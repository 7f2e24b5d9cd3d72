#!/usr/bin/env bash
# Sampling time per image of checkpoints and samplers, side by side in one run: each entry samples
# NUM_SAMPLES class-balanced images (batch 100, --seed 1, into a temporary folder) with sit-sample, ROUNDS
# times in turn, and the table gives the fastest round's wall time per image:
#
#   examples/sit-bench/sampling_time.sh CKPT:METHOD:NUM_SAMPLING_STEPS:CFG_SCALE ...
#
# Settings (environment): SIT_BIN (build/examples), NUM_SAMPLES (500), ROUNDS (2), THREADS (0: every core).
set -euo pipefail
if [[ $# -lt 1 ]]; then
  sed -n '6p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SIT_BIN:-$root/build/examples}
num_samples=${NUM_SAMPLES:-500}
rounds=${ROUNDS:-2}
threads=${THREADS:-0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A best
for ((round = 0; round < rounds; ++round)); do
  for entry in "$@"; do
    IFS=: read -r ckpt method steps cfg <<< "$entry"
    start=$(date +%s.%N)
    "$bin/sit-sample/sit-sample" ODE --ckpt "$ckpt" --sampling-method "$method" --num-sampling-steps "$steps" \
      --cfg-scale "$cfg" --num-samples "$num_samples" --batch-size 100 --seed 1 --threads "$threads" --out '' \
      --out-npz "$tmp/samples.npz" > /dev/null
    ms=$(echo "($(date +%s.%N) - $start) * 1000 / $num_samples" | bc -l)
    if [[ -z ${best[$entry]:-} ]] || (( $(echo "$ms < ${best[$entry]}" | bc -l) )); then best[$entry]=$ms; fi
  done
done
echo "| checkpoint | sampler (method-steps-CFG) | ms per image |"
echo "| --- | --- | --- |"
for entry in "$@"; do
  IFS=: read -r ckpt method steps cfg <<< "$entry"
  printf '| %s | %s-%s-cfg%s | %.2f |\n' "$ckpt" "$method" "$steps" "$cfg" "${best[$entry]}"
done
