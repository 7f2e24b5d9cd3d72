#!/usr/bin/env bash
# Quality against the number of model evaluations (NFE) of the ODE solvers, on one checkpoint:
#
#   examples/sit-bench/nfe_quality.sh CHECKPOINT CLASSIFIER OUT_DIR
#
# Every run samples the same NUM_SAMPLES class-balanced labels from the same noise (--seed SEED,
# batches of BATCH_SIZE), with classifier-free guidance at CFG_SCALE (the quick start's 2). Each
# run is scored by sit-eval score: the class accuracy of its images, the Fréchet distance of their
# classifier features to the Fashion-MNIST test split's, and the relative L2 distance of its first
# REF_SAMPLES samples to a 500-step rk4 solution (2,000 NFE) of the same noise and labels.
# The run-to-run noise is heun2 at 50 NFE on SPREAD_SEEDS (other noise, same labels).
#
# The shifted rows use --time-shift SHIFT; SHIFT=auto (the default) first tries SHIFT_CANDIDATES
# with SWEEP_SOLVERS at SWEEP_NFES on the reference's samples and takes the shift of the lowest
# geometric mean relative L2, whichever side of 1 it lies (SHIFT=0: no shifted rows).
#
# NFE: euler at NFE n takes n + 1 grid points, heun2 n/2 + 1 (an odd n runs heun2 at n - 1, and
# the table marks it); for the multistep solvers --num-sampling-steps is the NFE. The sampler's own
# count (sit-sample's "model evaluations", over the batches) is checked against it.
#
# Cost: one model evaluation of the quick-start SiT with CFG takes about 6.5 ms per sample on 2
# threads, so the defaults (200 samples, a 20-sample reference) take about 30 minutes; 1,000
# samples would take about 2 hours.
#
# Writes OUT_DIR/runs/*.{npz,npy,json,log}, OUT_DIR/table.md and OUT_DIR/results.json; a run
# whose files are there already is not redone, so an interrupted table continues.
#
# Settings (environment): SIT_BIN (folder holding sit-sample/ and sit-eval/; default build/examples),
# SOLVERS, NFES, SHIFT, SHIFT_CANDIDATES ("0.5 0.7 1.5 2 3"), SWEEP_SOLVERS ("euler dpmpp_2m unipc"),
# SWEEP_NFES ("5 10"), NUM_SAMPLES (200), REF_SAMPLES (20), BATCH_SIZE (20), SEED (1),
# SPREAD_SEEDS ("1 2 3"), CFG_SCALE (2), THREADS (2), REF_STEPS (501 grid points of rk4).
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
shift_value=${SHIFT:-auto}
shift_candidates=${SHIFT_CANDIDATES:-0.5 0.7 1.5 2 3}
sweep_solvers=${SWEEP_SOLVERS:-euler dpmpp_2m unipc}
sweep_nfes=${SWEEP_NFES:-5 10}
num_samples=${NUM_SAMPLES:-200}
ref_samples=${REF_SAMPLES:-20}
batch_size=${BATCH_SIZE:-20}
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
  # The noise is drawn batch after batch, so the reference shares the runs' noise in whole batches.
  echo "nfe_quality.sh: REF_SAMPLES=$ref_samples must be a multiple of BATCH_SIZE=$batch_size, at most NUM_SAMPLES" >&2
  exit 1
fi
runs=$out/runs
mkdir -p "$runs"
started=$(date +%s)

# sample NAME SAMPLES SEED EXPECTED_NFE SIT-SAMPLE-FLAGS...: one sit-sample ODE run, timed, with
# its NFE per sample checked.
sample() {
  local name=$1 n=$2 run_seed=$3 expected=$4
  shift 4
  [[ -f $runs/$name.run.json ]] && return 0
  local start evaluations batches milliseconds
  start=$(date +%s%N)
  "$bin/sit-sample/sit-sample" ODE --ckpt "$checkpoint" --cfg-scale "$cfg_scale" --num-samples "$n" \
    --batch-size "$batch_size" --seed "$run_seed" --threads "$threads" --out '' \
    --out-npz "$runs/$name.npz" --out-npy "$runs/$name.npy" "$@" > "$runs/$name.log"
  milliseconds=$(( ($(date +%s%N) - start) / 1000000 ))
  evaluations=$(sed -n 's/^[0-9]* samples, \([0-9]*\) model evaluations.*/\1/p' "$runs/$name.log")
  batches=$(( (n + batch_size - 1) / batch_size ))
  if [[ $evaluations != $(( expected * batches )) ]]; then
    echo "nfe_quality.sh: $name: $evaluations model evaluations over $batches batches, expected $expected each" >&2
    exit 1
  fi
  echo "{\"seconds\": ${milliseconds}e-3, \"nfe\": $expected, \"samples\": $n}" > "$runs/$name.run.json"
  echo "$name: $expected NFE, $n samples, $(( milliseconds / 1000 )) s"
}

# score NAME SIT-EVAL-FLAGS...: sit-eval score of a run (the flags say what to score).
score() {
  local name=$1
  shift
  [[ -f $runs/$name.score.json ]] && return 0
  "$bin/sit-eval/sit-eval" score --threads "$threads" --json "$runs/$name.score.json" "$@" > /dev/null
}
against_reference() { echo --reference "$runs/reference.npy" --candidate "$runs/$1.npy"; }

# The grid points and the NFE a solver spends for a budget of `nfe` evaluations.
steps_for() {
  case $1 in
    euler) echo $(( $2 + 1 )) ;;
    heun2) echo $(( $2 / 2 + 1 )) ;;
    *) echo "$2" ;;
  esac
}
nfe_for() { [[ $1 == heun2 ]] && echo $(( $2 / 2 * 2 )) || echo "$2"; }
# flags SOLVER NFE SHIFT: sit-sample's flags for the solver at that budget.
flags() {
  echo --sampling-method "$1" --num-sampling-steps "$(steps_for "$1" "$2")"
  [[ $3 == 1 ]] || echo --time-shift "$3"
}

sample reference "$ref_samples" "$seed" $(( 4 * (ref_steps - 1) )) \
  --sampling-method rk4 --num-sampling-steps "$ref_steps"

# shellcheck disable=SC2046  # flags and against_reference are lists of words
if [[ $shift_value == auto ]]; then
  for s in 1 $shift_candidates; do
    for solver in $sweep_solvers; do
      for nfe in $sweep_nfes; do
        name="sweep_${solver}_nfe${nfe}_shift${s}"
        sample "$name" "$ref_samples" "$seed" "$(nfe_for "$solver" "$nfe")" $(flags "$solver" "$nfe" "$s")
        score "$name" $(against_reference "$name")
      done
    done
  done
  shift_value=$(python3 - "$runs" "$shift_candidates" "$sweep_solvers" "$sweep_nfes" <<'PYTHON'
import json, math, os, sys
runs, shifts, solvers, nfes = sys.argv[1], *(a.split() for a in sys.argv[2:])
def error(s):  # the geometric mean relative L2 of the sweep's runs at shift s
    logs = [math.log(json.load(open(os.path.join(runs, f"sweep_{m}_nfe{n}_shift{s}.score.json")))["relative_l2"])
            for m in solvers for n in nfes]
    return math.exp(sum(logs) / len(logs))
print(min(shifts, key=error))
PYTHON
)
  echo "time shift $shift_value: the lowest geometric mean relative L2 of $shift_candidates"
fi

shifts=(1)
[[ $shift_value == 0 ]] || shifts+=("$shift_value")
for solver in $solvers; do
  for nfe in $nfes; do
    for s in "${shifts[@]}"; do
      name="${solver}_nfe${nfe}_shift${s}"
      sample "$name" "$num_samples" "$seed" "$(nfe_for "$solver" "$nfe")" $(flags "$solver" "$nfe" "$s")
      score "$name" --classifier "$classifier" --samples "$runs/$name.npz" $(against_reference "$name")
    done
  done
done
for spread_seed in $spread_seeds; do
  name="heun2_nfe50_shift1_seed${spread_seed}"
  if [[ $spread_seed == "$seed" && -f $runs/heun2_nfe50_shift1.run.json ]]; then
    for ext in npz npy run.json; do ln -sf "heun2_nfe50_shift1.$ext" "$runs/$name.$ext"; done
  fi
  sample "$name" "$num_samples" "$spread_seed" 50 $(flags heun2 50 1)
  # Other noise: the accuracy and FD only (the reference is of seed $seed's noise).
  score "$name" --classifier "$classifier" --samples "$runs/$name.npz"
done

# The tables and the JSON (Python's standard library only).
python3 - "$out" "$solvers" "$nfes" "$shift_value" "$spread_seeds" "$num_samples" "$ref_samples" \
  "$cfg_scale" "$seed" "$(( $(date +%s) - started ))" <<'PYTHON'
import json, os, statistics, sys
(out, solvers, nfes, shift, spread_seeds, num_samples, ref_samples, cfg, seed, elapsed) = sys.argv[1:]
solvers, nfes, spread_seeds = solvers.split(), [int(n) for n in nfes.split()], spread_seeds.split()
runs = os.path.join(out, "runs")

def load(name):
    result = {}
    for suffix in (".score.json", ".run.json"):
        with open(os.path.join(runs, name + suffix)) as f:
            result.update(json.load(f))
    return result

shifts = ["1"] + ([shift] if shift != "0" else [])
results = {"num_samples": int(num_samples), "reference_samples": int(ref_samples), "cfg_scale": float(cfg),
           "seed": int(seed), "time_shift": float(shift), "runs": [], "spread": [], "sweep": []}
lines = [f"Cells: class accuracy % / feature FD / relative L2 to rk4 (first {ref_samples} samples); "
         f"{num_samples} samples, CFG {cfg}, noise seed {seed}.", "",
         "| solver | " + " | ".join(f"NFE {n}" for n in nfes) + " |", "| --- |" + " --- |" * len(nfes)]
for solver in solvers:
    for s in shifts:
        cells = []
        for n in nfes:
            r = load(f"{solver}_nfe{n}_shift{s}")
            r.update(solver=solver, time_shift=float(s), budget=n)
            results["runs"].append(r)
            mark = f" (NFE {r['nfe']})" if r["nfe"] != n else ""
            cells.append(f"{100 * r['accuracy']:.1f} / {r['fd']:.1f} / {r['relative_l2']:.3f}{mark}")
        lines.append(f"| {solver if s == '1' else f'{solver}, shift {s}'} | " + " | ".join(cells) + " |")

spread = [load(f"heun2_nfe50_shift1_seed{s}") for s in spread_seeds]
results["spread"] = [{"seed": int(s), "accuracy": r["accuracy"], "fd": r["fd"]} for s, r in zip(spread_seeds, spread)]
def summary(values, digits):
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return (f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f} (range {min(values):.{digits}f} "
            f"to {max(values):.{digits}f})")
lines += ["", f"Run-to-run noise, heun2 at 50 NFE on noise seeds {', '.join(spread_seeds)}: accuracy "
          f"{summary([100 * r['accuracy'] for r in spread], 1)} %, FD {summary([r['fd'] for r in spread], 1)}."]

sweep_runs = sorted(f[len("sweep_"):-len(".score.json")] for f in os.listdir(runs)
                    if f.startswith("sweep_") and f.endswith(".score.json"))
if sweep_runs:
    lines += ["", f"Time-shift sweep (relative L2 to rk4, first {ref_samples} samples):", "",
              "| solver, NFE | " + " | ".join(f"shift {s}" for s in sorted({r.rsplit('_shift', 1)[1] for r in sweep_runs},
                                                                            key=float)) + " |"]
    shift_values = sorted({r.rsplit("_shift", 1)[1] for r in sweep_runs}, key=float)
    lines.append("| --- |" + " --- |" * len(shift_values))
    for key in sorted({r.rsplit("_shift", 1)[0] for r in sweep_runs}):
        solver, nfe = key.rsplit("_nfe", 1)
        cells = []
        for s in shift_values:
            r = load(f"sweep_{key}_shift{s}")
            results["sweep"].append({"solver": solver, "nfe": int(nfe), "time_shift": float(s),
                                     "relative_l2": r["relative_l2"]})
            cells.append(f"{r['relative_l2']:.3f}")
        lines.append(f"| {solver}, {nfe} | " + " | ".join(cells) + " |")

times = [r["seconds"] / (r["nfe"] * r["samples"]) * 1000 for r in results["runs"]]
with open(os.path.join(runs, "reference.run.json")) as f:
    reference = json.load(f)
lines += ["", f"Time: {statistics.median(times):.1f} ms per model evaluation and sample (median over the runs; "
          f"a 10-NFE run of {num_samples} samples {statistics.median(times) * 10 * int(num_samples) / 1000:.0f} s), "
          f"the rk4 reference {reference['seconds']:.0f} s, the whole table {int(elapsed) / 60:.0f} min."]
results["elapsed_seconds"] = int(elapsed)
with open(os.path.join(out, "table.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(results, f, indent=2)
print("\n".join(lines))
PYTHON
