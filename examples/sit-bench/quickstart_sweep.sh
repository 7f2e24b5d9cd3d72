#!/usr/bin/env bash
# The quick start's recipe sweep: train each recipe on Fashion-MNIST with sit-train, sample it
# with each sampler setting, score the samples with sit-eval score (the project's classifier:
# class accuracy, and the Fréchet distance of classifier features to the test split's):
#
#   examples/sit-bench/quickstart_sweep.sh CLASSIFIER OUT_DIR [RECIPE...]
#
# CLASSIFIER comes from `sit-eval train-classifier` (seed 0, 3 epochs: 91.0% test accuracy).
# Every sample set is NUM_SAMPLES class-balanced labels from --seed 1, so rows are compared on the
# same labels and noise. A recipe or sample set whose files exist is not redone. Writes
# OUT_DIR/<recipe>/ (training results, samples, scores) and OUT_DIR/table.md (every scored sample
# set of the recipes given).
#
# Settings (environment): SIT_BIN (build/examples), NUM_SAMPLES (1000), THREADS (2),
# SAMPLERS ("euler:25:2 heun2:11:3 dpmpp_2m:20:3 unipc:10:2": method:num-sampling-steps:cfg-scale).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '6,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
classifier=$1 out=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SIT_BIN:-$root/build/examples}
num_samples=${NUM_SAMPLES:-1000}
threads=${THREADS:-2}
samplers=${SAMPLERS:-euler:25:2 heun2:11:3 dpmpp_2m:20:3 unipc:10:2}

# name -> sit-train flags (all on the default Fashion-MNIST, batch 64).
declare -A recipes=(
  [d6-900-cosine]="--depth 6 --max-steps 900 --lr 1e-3 --lr-schedule cosine --warmup-steps 100 --min-lr 1e-5 --ema-decay 0.995"
  [d4-2490-const]="--depth 4 --max-steps 2490 --lr 2e-3 --ema-decay 0.99"
  [d4-1300-const]="--depth 4 --max-steps 1300 --lr 2e-3 --ema-decay 0.99"
  [d3-1700-const]="--depth 3 --max-steps 1700 --lr 2e-3 --ema-decay 0.99"
)
order=(d6-900-cosine d4-2490-const d4-1300-const d3-1700-const)
(( $# > 0 )) && order=("$@")

[[ -f $classifier ]] || { echo "quickstart_sweep.sh: $classifier: no such file" >&2; exit 1; }
for p in sit-train sit-sample sit-eval; do
  [[ -x $bin/$p/$p ]] || { echo "quickstart_sweep.sh: $bin/$p/$p not built (SIT_BIN=$bin)" >&2; exit 1; }
done
mkdir -p "$out"

for name in "${order[@]}"; do
  [[ -n ${recipes[$name]+x} ]] || { echo "quickstart_sweep.sh: no recipe '$name' (${!recipes[*]})" >&2; exit 1; }
  dir="$out/$name"
  steps=$(sed 's/.*--max-steps \([0-9]*\).*/\1/' <<< "${recipes[$name]}")
  ckpt="$dir/checkpoints/$(printf '%07d' "$steps").pt"
  if [[ ! -f $ckpt ]]; then
    echo "== $name: sit-train ${recipes[$name]}"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$bin/sit-train/sit-train" --model '' --patch-size 4 --hidden-size 128 --num-heads 4 --global-batch-size 64 \
      ${recipes[$name]} --log-every 100 --ckpt-every "$steps" --sample-every 100000 --threads "$threads" \
      --results-dir "$dir" > "$dir.train.log" 2>&1
    echo $(( $(date +%s) - start )) > "$dir/train_seconds"
  fi
  for sampler in $samplers; do
    IFS=: read -r method steps_flag cfg <<< "$sampler"
    tag="$method-$steps_flag-cfg$cfg"
    if [[ ! -f $dir/$tag.json ]]; then
      echo "== $name: $tag"
      "$bin/sit-sample/sit-sample" ODE --ckpt "$ckpt" --sampling-method "$method" --num-sampling-steps "$steps_flag" \
        --cfg-scale "$cfg" --num-samples "$num_samples" --batch-size 100 --seed 1 --threads "$threads" --out '' \
        --out-npz "$dir/$tag.npz" > "$dir/$tag.log" 2>&1
      "$bin/sit-eval/sit-eval" score --classifier "$classifier" --samples "$dir/$tag.npz" --threads "$threads" \
        --json "$dir/$tag.json" >> "$dir/$tag.log" 2>&1
    fi
  done
done

# Every scored sample set of the recipes given, whichever SAMPLERS made it.
/usr/bin/python3 - "$out" "$threads" "${order[@]}" > "$out/table.md" <<'PY'
import json, pathlib, sys
out, threads, names = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
print(f"| recipe | training (s, {threads} threads) | sampler | class accuracy | feature FD |")
print("| --- | --- | --- | --- | --- |")
for name in names:
    d = out / name
    seconds = (d / "train_seconds").read_text().strip()
    for score in sorted(d.glob("*.json")):
        s = json.loads(score.read_text())
        print(f"| {name} | {seconds} | {score.stem} | {100 * s['accuracy']:.1f}% | {s['fd']:.2f} |")
PY
cat "$out/table.md"
