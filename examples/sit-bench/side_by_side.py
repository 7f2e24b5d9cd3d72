"""sit-bench against the Python it replaces, the same workloads in one run.

The baselines are sit_eager.py (SiT, train.py's step and sample.py's guided ODE in plain PyTorch
eager) and, with --official-dir, the official code itself (a checkout of willisma/SiT: its
models.py, transport and torchdiffeq, driven by sit_eager.py's timing loop; timm and torchdiffeq
must import, e.g. through PYTHONPATH). --compile-column adds sit_eager.py --compile, its model
through torch.compile (torch 2.x; the first warm-up call compiles, and the JSON keeps each round's
warmup_ms and compile_ms). Each workload runs in every program with the same model, batch, threads,
warm-up and repeats, for --rounds rounds; each round runs the programs one after another, in an
order that rotates from round to round, so that a slow spell of a shared machine falls on all of
them. A round's ratio is baseline / sit of that round's medians (> 1: sit is faster); the table
gives each program's median over every repeat and the median ratio over the rounds with its range.
--sit-baseline adds another sit-bench (a build of an earlier commit) to the rotation: what a change
gained. --markdown prints the table as docs/performance.md has it. Use Debian's /usr/bin/python3 on
CPU (its python3-torch is the LibTorch sit links):

    PYTHONPATH=/path/to/timm:/path/to/torchdiffeq /usr/bin/python3 examples/sit-bench/side_by_side.py \\
        --sit-bench build/examples/sit-bench/sit-bench --official-dir /path/to/SiT --threads 2 --rounds 5
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

FASHION_MNIST = ["--model", "", "--patch-size", "4", "--depth", "6", "--hidden-size", "256", "--num-heads", "4",
                 "--input-size", "28", "--in-channels", "1", "--num-classes", "10"]
SIT_S2 = ["--model", "SiT-S/2", "--input-size", "32", "--in-channels", "4", "--num-classes", "1000"]
SIT_XL2 = ["--model", "SiT-XL/2", "--input-size", "32", "--in-channels", "4", "--num-classes", "1000"]

# (name, arguments common to all programs, sampler flags: sit-bench takes them after its ODE
# subcommand, as sit-sample)
HEUN2 = ["--sampling-method", "heun2"]
CPU_WORKLOADS = [
    ("training step, 28x28x1 patch 4 depth 6 hidden 256 4 heads, batch 64",
     ["--task", "train", "--batch-size", "64"] + FASHION_MNIST, []),
    ("training step, SiT-S/2 on 32x32x4, batch 8", ["--task", "train", "--batch-size", "8"] + SIT_S2, []),
    ("forward, SiT-S/2, batch 8", ["--task", "forward", "--batch-size", "8"] + SIT_S2, []),
    ("sample, SiT-S/2, ODE heun2 6 steps (10 evaluations), CFG 4, 4 images",
     ["--task", "sample", "--batch-size", "4", "--num-sampling-steps", "6", "--cfg-scale", "4"] + SIT_S2, HEUN2),
]
CUDA_WORKLOADS = [
    ("training step, SiT-XL/2 on 32x32x4, batch 256", ["--task", "train", "--batch-size", "256"] + SIT_XL2, []),
    ("sample, SiT-XL/2, ODE heun2 50 steps (98 evaluations), CFG 4, 8 images",
     ["--task", "sample", "--batch-size", "8", "--num-sampling-steps", "50", "--cfg-scale", "4"] + SIT_XL2,
     HEUN2),
]


def run_json(command):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(command + ["--json", out.name], check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            return json.load(f)


def torch_version(python):
    """python's torch version and whether it has torch.compile."""
    probe = subprocess.run([python, "-c", "import torch; print(torch.__version__, hasattr(torch, 'compile'))"],
                           check=True, capture_output=True, text=True)
    version, has_compile = probe.stdout.split()
    return version, has_compile == "True"


def pooled(runs):
    """The runs of one program as one: the median over every repeat of every round."""
    times = [t for run in runs for t in run["times_ms"]]
    result = dict(runs[-1], times_ms=times, median_ms=statistics.median(times), round_medians_ms=[
        run["median_ms"] for run in runs])
    for key in ("warmup_ms", "compile_ms"):  # sit_eager.py's, one per round
        if key in result:
            result[key] = [run[key] for run in runs]
    if "flops" in result:
        result["tflops"] = result["flops"] / (result["median_ms"] / 1000) / 1e12
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sit-bench", required=True, help="path of the sit-bench program")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the baselines")
    parser.add_argument("--official-dir", default="", help="a checkout of willisma/SiT: also time the official code")
    parser.add_argument("--compile-column", action="store_true",
                        help="also time sit_eager.py --compile (torch.compile, torch 2.x)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sit-extra", default="", help="extra sit-bench flags, e.g. '--cuda-graph'")
    parser.add_argument("--sit-baseline", default="",
                        help="another sit-bench (e.g. a build of an earlier commit) as a baseline, with sit's flags")
    parser.add_argument("--precision", default="fp32", help="fp32, tf32 or bf16, for every program")
    parser.add_argument("--sit-precision", default="", help="sit-bench's precision where it differs from --precision")
    parser.add_argument("--only", default="", help="run only workloads whose name contains this")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    parser.add_argument("--json", default="", help="write all results here")
    args = parser.parse_args()
    if args.official_dir and not os.path.isfile(os.path.join(args.official_dir, "models.py")):
        raise SystemExit(f"--official-dir {args.official_dir}: no models.py there (a checkout of willisma/SiT)")
    if args.compile_column:  # before the first workload's other programs run
        version, has_compile = torch_version(args.python)
        if not has_compile:
            raise SystemExit(f"--compile-column needs torch.compile (PyTorch 2.0 or later); "
                             f"{args.python} has torch {version}")

    common = ["--threads", str(args.threads), "--device", args.device, "--warmup", str(args.warmup),
              "--repeats", str(args.repeats)]
    eager = [args.python, os.path.join(HERE, "sit_eager.py")]
    baselines = [("official", eager + ["--official-dir", args.official_dir])] if args.official_dir else []
    baselines.append(("eager", eager))
    if args.compile_column:
        baselines.append(("compile", eager + ["--compile"]))
    if args.sit_baseline:
        baselines.append(("sit-baseline", None))
    workloads = CUDA_WORKLOADS if args.device.startswith("cuda") else CPU_WORKLOADS
    sit_precision = args.sit_precision or args.precision
    rows = []
    for name, workload, sampler in workloads:
        if args.only and args.only not in name:
            continue
        sit_sampler = ["ODE"] + sampler if sampler else []
        def sit_command(program):
            return [program] + workload + common + ["--precision", sit_precision] + args.sit_extra.split() + sit_sampler
        programs = [(b, sit_command(args.sit_baseline) if b == "sit-baseline" else
                     command + workload + sampler + common + ["--precision", args.precision])
                    for b, command in baselines]
        programs.append(("sit", sit_command(args.sit_bench)))
        runs = {program: [] for program, _ in programs}
        for r in range(args.rounds):
            for program, command in programs[r % len(programs):] + programs[:r % len(programs)]:
                runs[program].append(run_json(command))
        results = {program: pooled(program_runs) for program, program_runs in runs.items()}
        for program, result in results.items():
            if result["model_evaluations"] != results["sit"]["model_evaluations"]:
                raise SystemExit(f"{name}: {program} ran {result['model_evaluations']} model evaluations, "
                                 f"sit-bench {results['sit']['model_evaluations']}")
        row = {"workload": name, "results": results, "ratios": {}}
        for program, _ in baselines:
            per_round = [b["median_ms"] / s["median_ms"] for b, s in zip(runs[program], runs["sit"])]
            row["ratios"][program] = {"median": statistics.median(per_round), "min": min(per_round),
                                      "max": max(per_round), "rounds": per_round}
        rows.append(row)
        print_row(row, [b for b, _ in baselines], args.markdown, header=len(rows) == 1)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(args), "rows": rows}, f, indent=2)


def print_row(row, baselines, markdown, header):
    ms = [row["results"][b]["median_ms"] for b in baselines] + [row["results"]["sit"]["median_ms"]]
    ratios = [row["ratios"][b] for b in baselines]
    if markdown:
        if header:
            columns = [f"{b} ms" for b in baselines] + ["sit ms"] + [f"{b} / sit (range)" for b in baselines]
            print("| workload | " + " | ".join(columns) + " |")
            print("| --- |" + " --- |" * len(columns))
        cells = [f"{m:,.0f}" for m in ms] + [f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})" for r in ratios]
        print(f"| {row['workload']} | " + " | ".join(cells) + " |", flush=True)
        return
    if header:
        print(f"{'workload':<72}" + "".join(f"{b + ' ms':>13}" for b in baselines) + f"{'sit ms':>10}" +
              "".join(f"{b + '/sit':>22}" for b in baselines))
    print(f"{row['workload']:<72}" + "".join(f"{m:>13.1f}" for m in ms[:-1]) + f"{ms[-1]:>10.1f}" +
          "".join(f"{r['median']:>9.2f} ({r['min']:.2f}-{r['max']:.2f})" for r in ratios), flush=True)
    # On a GPU every program reports the most memory it allocated during its timed calls.
    peaks = {p: row["results"][p].get("peak_memory_bytes") for p in baselines + ["sit"]}
    if all(peak is not None for peak in peaks.values()):
        print("  peak memory: " + ", ".join(f"{p} {peak / 2**20:,.0f} MiB" for p, peak in peaks.items()), flush=True)


if __name__ == "__main__":
    main()
