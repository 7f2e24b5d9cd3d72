#!/usr/bin/env bash
# Quality against the number of model evaluations (NFE) of the ODE solvers, on one checkpoint:
#
#   examples/sit-bench/nfe_quality.sh CHECKPOINT CLASSIFIER OUT_DIR
#
# Every run samples the same NUM_SAMPLES class-balanced labels from the same noise (--seed SEED,
# batches of BATCH_SIZE), with classifier-free guidance at CFG_SCALE (the quick start's 2). Each
# run is scored by sit-eval score: the class accuracy of its images, the Fréchet distance of their
# classifier features to the Fashion-MNIST test split's, and the relative L2 distance of the first
# REF_SAMPLES samples to a 500-step rk4 solution (2,000 NFE) of the same noise and labels.
# The run-to-run noise is heun2 at 50 NFE on SPREAD_SEEDS (other noise, same labels).
#
# NFE: euler at NFE n takes n + 1 grid points, heun2 n/2 + 1 (an odd n runs heun2 at n - 1, and
# the table marks it); for the multistep solvers --num-sampling-steps is the NFE. The sampler's own
# count (sit-sample's "model evaluations", over the batches) is checked against it.
#
# Writes OUT_DIR/runs/*.{npz,npy,json,log}, OUT_DIR/table.md and OUT_DIR/results.json; a run
# whose score is there already is not redone, so an interrupted table continues.
#
# Settings (environment): SIT_BIN (folder holding sit-sample/ and sit-eval/; default build/examples),
# SOLVERS, NFES, SHIFT (the --time-shift of the shifted rows; 0: no shifted rows), NUM_SAMPLES
# (1000), REF_SAMPLES (200), BATCH_SIZE (100), SEED (1), SPREAD_SEEDS ("1 2 3"), CFG_SCALE (2),
# THREADS (2), REF_STEPS (501 grid points of rk4).
set -euo pipefail

if [[ $# -ne 3 ]]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
checkpoint=$1 classifier=$2 out=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SIT_BIN:-$root/build/examples}
solvers=${SOLVERS:-euler heun2 dpmpp_2m dpmpp_3m unipc}
nfes=${NFES:-5 10 15 25 50}
shift_value=${SHIFT:-3}
num_samples=${NUM_SAMPLES:-1000}
ref_samples=${REF_SAMPLES:-200}
batch_size=${BATCH_SIZE:-100}
seed=${SEED:-1}
spread_seeds=${SPREAD_SEEDS:-1 2 3}
cfg_scale=${CFG_SCALE:-2}
threads=${THREADS:-2}
ref_steps=${REF_STEPS:-501}

for f in "$checkpoint" "$classifier"; do [[ -f $f ]] || { echo "nfe_quality.sh: $f: no such file" >&2; exit 1; }; done
for p in sit-sample sit-eval; do
  [[ -x $bin/$p/$p ]] || { echo "nfe_quality.sh: $bin/$p/$p not built (SIT_BIN=$bin)" >&2; exit 1; }
done
if (( ref_samples % batch_size != 0 || ref_samples > num_samples )); then
  # The noise is drawn batch after batch, so the reference shares the runs' noise only in whole batches.
  echo "nfe_quality.sh: REF_SAMPLES=$ref_samples must be a multiple of BATCH_SIZE=$batch_size, at most NUM_SAMPLES" >&2
  exit 1
fi
mkdir -p "$out/runs"
runs=$out/runs
num_batches=$(( (num_samples + batch_size - 1) / batch_size ))

# sample NAME SAMPLES SEED EXPECTED_NFE SIT-SAMPLE-FLAGS...: one sit-sample ODE run, timed, with
# its NFE per sample checked (0: not checked).
sample() {
  local name=$1 n=$2 run_seed=$3 expected=$4
  shift 4
  [[ -f $runs/$name.npy ]] && return 0
  local start evaluations batches seconds
  start=$(date +%s%N)
  "$bin/sit-sample/sit-sample" ODE --ckpt "$checkpoint" --cfg-scale "$cfg_scale" --num-samples "$n" \
    --batch-size "$batch_size" --seed "$run_seed" --threads "$threads" --out '' \
    --out-npz "$runs/$name.npz.part" --out-npy "$runs/$name.npy.part" "$@" > "$runs/$name.log"
  seconds=$(( ($(date +%s%N) - start) / 1000000 ))e-3
  evaluations=$(sed -n 's/^[0-9]* samples, \([0-9]*\) model evaluations.*/\1/p' "$runs/$name.log")
  batches=$(( (n + batch_size - 1) / batch_size ))
  if [[ $expected != 0 && $evaluations != $(( expected * batches )) ]]; then
    echo "nfe_quality.sh: $name: $evaluations model evaluations over $batches batches, expected $expected each" >&2
    exit 1
  fi
  echo "{\"seconds\": $seconds, \"nfe\": $(( evaluations / batches ))}" > "$runs/$name.run.json"
  mv "$runs/$name.npz.part" "$runs/$name.npz"
  mv "$runs/$name.npy.part" "$runs/$name.npy"
  echo "$name: $(( evaluations / batches )) NFE, $(( ${seconds%e-3} / 1000 )) s"
}

score() {
  local name=$1
  [[ -f $runs/$name.score.json ]] && return 0
  "$bin/sit-eval/sit-eval" score --classifier "$classifier" --samples "$runs/$name.npz" \
    --reference "$runs/reference.npy" --candidate "$runs/$name.npy" --threads "$threads" \
    --json "$runs/$name.score.json" > /dev/null
}

# The grid points and the NFE a solver spends for a budget of `nfe` evaluations.
steps_for() {
  case $1 in
    euler) echo $(( $2 + 1 )) ;;
    heun2) echo $(( $2 / 2 + 1 )) ;;
    *) echo "$2" ;;
  esac
}
nfe_for() { [[ $1 == heun2 ]] && echo $(( $2 / 2 * 2 )) || echo "$2"; }

sample reference "$ref_samples" "$seed" $(( 4 * (ref_steps - 1) )) \
  --sampling-method rk4 --num-sampling-steps "$ref_steps"

shifts=(1)
[[ $shift_value != 0 ]] && shifts+=("$shift_value")
for solver in $solvers; do
  for nfe in $nfes; do
    for s in "${shifts[@]}"; do
      name="${solver}_nfe${nfe}_shift${s}"
      flags=(--sampling-method "$solver" --num-sampling-steps "$(steps_for "$solver" "$nfe")")
      [[ $s != 1 ]] && flags+=(--time-shift "$s")
      sample "$name" "$num_samples" "$seed" "$(nfe_for "$solver" "$nfe")" "${flags[@]}"
      score "$name"
    done
  done
done
for spread_seed in $spread_seeds; do
  name="heun2_nfe50_shift1_seed${spread_seed}"
  if [[ $spread_seed == "$seed" && -f $runs/heun2_nfe50_shift1.npy ]]; then
    for ext in npz npy run.json; do ln -sf "heun2_nfe50_shift1.$ext" "$runs/$name.$ext"; done
  fi
  sample "$name" "$num_samples" "$spread_seed" 50 --sampling-method heun2 --num-sampling-steps 26
  # Other noise: the accuracy and FD only (the reference is of seed $seed's noise).
  [[ -f $runs/$name.score.json ]] || "$bin/sit-eval/sit-eval" score --classifier "$classifier" \
    --samples "$runs/$name.npz" --threads "$threads" --json "$runs/$name.score.json" > /dev/null
done

# The table and the JSON: Python's standard library only.
python3 - "$out" "$solvers" "$nfes" "$shift_value" "$spread_seeds" "$num_samples" "$ref_samples" \
  "$cfg_scale" "$seed" <<'EOF'
import json, os, statistics, sys
out, solvers, nfes, shift, spread_seeds, num_samples, ref_samples, cfg, seed = sys.argv[1:]
solvers, nfes, spread_seeds = solvers.split(), [int(n) for n in nfes.split()], spread_seeds.split()
runs = os.path.join(out, "runs")

def load(name):
    with open(os.path.join(runs, name + ".score.json")) as f:
        result = json.load(f)
    with open(os.path.join(runs, name + ".run.json")) as f:
        result.update(json.load(f))
    return result

shifts = ["1"] + ([shift] if shift != "0" else [])
results = {"num_samples": int(num_samples), "reference_samples": int(ref_samples), "cfg_scale": float(cfg),
           "seed": int(seed), "time_shift": float(shift), "runs": [], "spread": []}
lines = ["| solver | " + " | ".join(f"NFE {n}" for n in nfes) + " |",
         "| --- |" + " --- |" * len(nfes)]
for solver in solvers:
    for s in shifts:
        label = solver if s == "1" else f"{solver}, shift {s}"
        cells = []
        for n in nfes:
            r = load(f"{solver}_nfe{n}_shift{s}")
            r.update(solver=solver, time_shift=float(s), budget=n)
            results["runs"].append(r)
            mark = f" ({r['nfe']})" if r["nfe"] != n else ""
            cells.append(f"{100 * r['accuracy']:.1f} / {r['fd']:.2f} / {r['relative_l2']:.3f}{mark}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
spread = [load(f"heun2_nfe50_shift1_seed{s}") for s in spread_seeds]
for s, r in zip(spread_seeds, spread):
    results["spread"].append({"seed": int(s), "accuracy": r["accuracy"], "fd": r["fd"]})
accuracy = [100 * r["accuracy"] for r in spread]
fd = [r["fd"] for r in spread]
def summary(values, digits):
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return (f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f} "
            f"(range {min(values):.{digits}f} to {max(values):.{digits}f})")
lines += ["", f"Run-to-run noise, heun2 at 50 NFE on noise seeds {', '.join(spread_seeds)}: "
          f"accuracy {summary(accuracy, 1)} %, FD {summary(fd, 2)}."]
times = [r["seconds"] for r in results["runs"]]
lines += [f"Time per run ({num_samples} samples): {min(times):.0f} to {max(times):.0f} s, "
          f"median {statistics.median(times):.0f} s."]
with open(os.path.join(out, "table.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
print("\n".join(lines))
EOF
