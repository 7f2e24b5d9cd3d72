"""sit-bench against plain PyTorch eager (sit_eager.py), the same workloads in one run.

Each workload runs in sit-bench and in sit_eager.py with the same model, batch, threads, warm-up
and repeats, alternating for --rounds rounds so that a slow spell of a shared machine falls on
both; the table gives the medians over all repeats and eager / sit, so > 1 means sit is faster. Use Debian's /usr/bin/python3 (its python3-torch is the LibTorch sit links on CPU):

    /usr/bin/python3 examples/sit-bench/side_by_side.py --sit-bench build/examples/sit-bench/sit-bench \
        --threads 2
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

# (name, arguments common to both programs, sampler flags: sit-bench takes them after its ODE
# subcommand, as sit-sample)
HEUN2 = ["--sampling-method", "heun2"]
CPU_WORKLOADS = [
    ("train Fashion-MNIST p4 d6 h256, batch 64", ["--task", "train", "--batch-size", "64"] + FASHION_MNIST, []),
    ("train SiT-S/2 32x32x4, batch 8", ["--task", "train", "--batch-size", "8"] + SIT_S2, []),
    ("forward SiT-S/2, batch 8", ["--task", "forward", "--batch-size", "8"] + SIT_S2, []),
    ("sample SiT-S/2 ODE heun2 6 steps CFG 4, 4 images",
     ["--task", "sample", "--batch-size", "4", "--num-sampling-steps", "6", "--cfg-scale", "4"] + SIT_S2, HEUN2),
]
CUDA_WORKLOADS = [
    ("train SiT-XL/2 32x32x4, batch 256", ["--task", "train", "--batch-size", "256"] + SIT_XL2, []),
    ("sample SiT-XL/2 ODE heun2 50 steps CFG 4, 8 images",
     ["--task", "sample", "--batch-size", "8", "--num-sampling-steps", "50", "--cfg-scale", "4"] + SIT_XL2,
     HEUN2),
]


def run_json(command):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(command + ["--json", out.name], check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            return json.load(f)


def pooled(runs):
    """The runs of one program as one: the median over every repeat of every round."""
    times = [t for run in runs for t in run["times_ms"]]
    result = dict(runs[-1], times_ms=times, median_ms=statistics.median(times))
    result["images_per_s"] *= runs[-1]["median_ms"] / result["median_ms"]
    if "flops" in result:
        result["tflops"] = result["flops"] / (result["median_ms"] / 1000) / 1e12
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sit-bench", required=True, help="path of the sit-bench program")
    parser.add_argument("--python", default=sys.executable, help="interpreter for sit_eager.py")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sit-extra", default="", help="extra sit-bench flags, e.g. '--precision bf16 --cuda-graph'")
    parser.add_argument("--precision", default="fp32", help="fp32, tf32 or bf16, for both programs")
    parser.add_argument("--only", default="", help="run only workloads whose name contains this")
    parser.add_argument("--json", default="", help="write all results here")
    args = parser.parse_args()

    common = ["--threads", str(args.threads), "--device", args.device, "--warmup", str(args.warmup),
              "--repeats", str(args.repeats), "--precision", args.precision]
    workloads = CUDA_WORKLOADS if args.device.startswith("cuda") else CPU_WORKLOADS
    rows = []
    print(f"{'workload':<52} {'eager ms':>10} {'sit ms':>10} {'eager/sit':>10} {'sit TFLOP/s':>12} {'evals':>6}")
    for name, workload, sampler in workloads:
        if args.only and args.only not in name:
            continue
        eager_runs, sit_runs = [], []
        for _ in range(args.rounds):
            eager_runs.append(run_json([args.python, os.path.join(HERE, "sit_eager.py")] + workload + sampler + common))
            sit_sampler = ["ODE"] + sampler if sampler else []
            sit_runs.append(run_json([args.sit_bench] + workload + common + args.sit_extra.split() + sit_sampler))
        eager, sit = pooled(eager_runs), pooled(sit_runs)
        if eager["model_evaluations"] != sit["model_evaluations"]:
            raise SystemExit(f"{name}: eager ran {eager['model_evaluations']} model evaluations, "
                             f"sit-bench {sit['model_evaluations']}")
        ratio = eager["median_ms"] / sit["median_ms"]
        print(f"{name:<52} {eager['median_ms']:>10.1f} {sit['median_ms']:>10.1f} {ratio:>10.2f} "
              f"{sit['tflops']:>12.4f} {sit['model_evaluations']:>6}", flush=True)
        rows.append({"workload": name, "eager": eager, "sit": sit, "ratio": ratio})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
