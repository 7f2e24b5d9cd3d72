#!/usr/bin/env bash
# The quick start's recipe sweep: train each recipe on Fashion-MNIST with sit-train, sample it
# with each sampler setting, score the samples with sit-eval score (the project's classifier:
# class accuracy, and the Fréchet distance of classifier features to the test split's):
#
#   examples/sit-bench/quickstart_sweep.sh CLASSIFIER OUT_DIR [RECIPE...]
#
# CLASSIFIER: the committed examples/fashion-mnist-classifier.safetensors (`sit-eval
# train-classifier --seed 0 --epochs 3 --threads 1`: 91.0% test accuracy).
# Every sample set is NUM_SAMPLES class-balanced labels from --seed 1, so rows are compared on the
# same labels and noise. A recipe or sample set whose files exist is not redone. Writes
# OUT_DIR/<recipe>/ (training results, samples, scores) and OUT_DIR/table.md (every scored sample
# set of the recipes given).
#
# Settings (environment): SIT_BIN (build/examples), NUM_SAMPLES (1000), THREADS (2),
# SAMPLERS ("euler:25:2 heun2:11:3 dpmpp_2m:20:3 unipc:10:2": method:num-sampling-steps:cfg-scale),
# PHEMA (e.g. "0.02,0.05,0.1": the sigma_rel values sit-phema reconstructs for the recipes that
# track the power-function EMA, each sampled and scored as the checkpoint), TEACHER (the REPA
# recipes' classifier: another seed's than CLASSIFIER, so that REPA is not aligned with the judge).
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
phema=${PHEMA:-}

# name -> sit-train flags (all on the default Fashion-MNIST, batch 64).
common="--depth 4 --lr 2e-3 --ema-decay 0.99 --phema-sigma-rel 0.05,0.1 --phema-every 100"
declare -A recipes=(
  [d6-900-cosine]="--depth 6 --max-steps 900 --lr 1e-3 --lr-schedule cosine --warmup-steps 100 --min-lr 1e-5 --ema-decay 0.995"
  [d4-2490-const]="--depth 4 --max-steps 2490 --lr 2e-3 --ema-decay 0.99"
  [d4-1300-const]="--depth 4 --max-steps 1300 --lr 2e-3 --ema-decay 0.99"
  [d3-1700-const]="--depth 3 --max-steps 1700 --lr 2e-3 --ema-decay 0.99"
  # The successors' pieces (docs/recipes.md) on d4-1300-const, each at its training time: the steps
  # are 1300 divided by the piece's step time over d4-1300-const's (sit-train on 2 threads of a Zen 4
  # EPYC: the LightningDiT block 1.45x, REPA with the classifier teacher 1.35x, the others 1.0x).
  # Every one tracks the power-function EMA (which costs nothing measurable), for PHEMA below.
  [base]="$common --max-steps 1300"
  [lognorm]="$common --max-steps 1300 --time-sampling logit-normal"
  [lightning]="$common --max-steps 900 --use-rmsnorm --use-swiglu --use-rope --use-qknorm"
  [cosine]="$common --max-steps 1300 --cosine-loss-weight 1 --grad-clip 1"
  [repa]="$common --max-steps 960 --repa-encoder classifier:${TEACHER:-} --repa-depth 2 --repa-projector-dim 512"
  [lognorm-cosine]="$common --max-steps 1300 --time-sampling logit-normal --cosine-loss-weight 1 --grad-clip 1"
  [lognorm-cosine-b95]="$common --max-steps 1300 --time-sampling logit-normal --cosine-loss-weight 1 --grad-clip 1 --adam-beta2 0.95"
  # Second training seeds of the rows whose differences may be noise.
  [base-s1]="$common --max-steps 1300 --global-seed 1"
  [lognorm-cosine-s1]="$common --max-steps 1300 --time-sampling logit-normal --cosine-loss-weight 1 --grad-clip 1 --global-seed 1"
  # bf16 autocast (fp32 master weights) at the same steps, on a CPU with bf16 matmuls (issue 28).
  [lognorm-cosine-bf16]="$common --max-steps 1300 --time-sampling logit-normal --cosine-loss-weight 1 --grad-clip 1 --precision bf16"
  [lognorm-cosine-bf16-s1]="$common --max-steps 1300 --time-sampling logit-normal --cosine-loss-weight 1 --grad-clip 1 --precision bf16 --global-seed 1"
  # MeanFlow (docs/meanflow.md) at one and three times d4-1300-const's training time (its step
  # 1.75x d4-1300-const's, the same machine), and fine-tuned from base's checkpoint for one time.
  # Sample these with SAMPLERS="meanflow:1:1 meanflow:2:1 meanflow:4:1".
  [meanflow-1x]="--depth 4 --lr 2e-3 --ema-decay 0.99 --meanflow --max-steps 740"
  [meanflow-3x]="--depth 4 --lr 2e-3 --ema-decay 0.99 --meanflow --max-steps 2230"
  [meanflow-ft]="--depth 4 --lr 2e-3 --ema-decay 0.99 --meanflow --max-steps 740 --init-from $out/base/checkpoints/0001300.pt"
  # ... with guidance baked into the target (omega 2, MeanFlow's CFG-like scale): sample at CFG 1.
  [meanflow-ft-w2]="--depth 4 --lr 2e-3 --ema-decay 0.99 --meanflow --meanflow-omega 2 --max-steps 740 --init-from $out/base/checkpoints/0001300.pt"
  [meanflow-ft-w2-p50]="--depth 4 --lr 2e-3 --ema-decay 0.99 --meanflow --meanflow-omega 2 --meanflow-data-proportion 0.5 --max-steps 740 --init-from $out/base/checkpoints/0001300.pt"
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
  # The checkpoint's EMA, then each PHEMA reconstruction of a run that tracked the power EMA.
  weights=("$ckpt:")
  if [[ -n $phema && -d $dir/phema ]]; then
    [[ -d $dir/phema-out ]] || "$bin/sit-phema/sit-phema" --snapshots "$dir/phema" --sigma-rel "$phema" \
      --out-dir "$dir/phema-out" > "$dir/phema-out.log" 2>&1
    for file in "$dir"/phema-out/phema-*.safetensors; do
      sigma=${file##*-}
      weights+=("$file:phema${sigma%.safetensors}-")
    done
  fi
  for entry in "${weights[@]}"; do
    for sampler in $samplers; do
      IFS=: read -r method steps_flag cfg <<< "$sampler"
      tag="${entry##*:}$method-$steps_flag-cfg$cfg"
      if [[ ! -f $dir/$tag.json ]]; then
        echo "== $name: $tag"
        "$bin/sit-sample/sit-sample" ODE --ckpt "${entry%:*}" --sampling-method "$method" \
          --num-sampling-steps "$steps_flag" --cfg-scale "$cfg" --num-samples "$num_samples" --batch-size 100 --seed 1 \
          --threads "$threads" --out '' --out-npz "$dir/$tag.npz" > "$dir/$tag.log" 2>&1
        "$bin/sit-eval/sit-eval" score --classifier "$classifier" --samples "$dir/$tag.npz" --threads "$threads" \
          --json "$dir/$tag.json" >> "$dir/$tag.log" 2>&1
      fi
    done
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
