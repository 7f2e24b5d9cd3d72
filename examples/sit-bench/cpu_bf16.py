"""bf16 against fp32 on the CPU, and against the matmul ceiling: the yardsticks of the CPU bf16
targets (docs/performance.md, "The bf16 step against the ceiling").

Measures, in this process, the fp32 and bf16 matmul ceilings (the best of square-ish matmuls
through the same LibTorch, so the same OpenBLAS and oneDNN kernels as sit-bench), then runs
sit-bench's training step for the quick start's model and SiT-S/2 in fp32 and bf16, alternating
precisions for --rounds rounds. Prints each step's median over the rounds' medians, its TFLOP/s
(sit-bench's count) as a share of the ceiling, and bf16's speed-up over fp32 with its range. Use
Debian's /usr/bin/python3 (its python3-torch is the LibTorch sit links):

    /usr/bin/python3 examples/sit-bench/cpu_bf16.py --sit-bench build/examples/sit-bench/sit-bench
"""

import argparse
import json
import statistics
import subprocess
import tempfile
import time

import torch

WORKLOADS = [
    ("quick start's step (28x28x1, patch 4, depth 4, width 128), batch 64",
     ["--model", "", "--patch-size", "4", "--depth", "4", "--hidden-size", "128", "--num-heads", "4",
      "--input-size", "28", "--in-channels", "1", "--num-classes", "10", "--learn-sigma", "false",
      "--batch-size", "64"]),
    ("SiT-S/2 step on 32x32x4, batch 8",
     ["--model", "SiT-S/2", "--input-size", "32", "--in-channels", "4", "--num-classes", "1000", "--batch-size", "8"]),
]


def matmul_ceiling(dtype, threads, repeats=5):
    """The best GFLOP/s of (4n, n) @ (n, n) matmuls for n in 1024, 2048: the rate the step's
    matmuls could reach at most."""
    torch.set_num_threads(threads)
    best = 0.0
    for n in (1024, 2048):
        a, b = torch.randn(4 * n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        for _ in range(2):
            a @ b
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * 4 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def step(bench, workload, precision, threads, warmup, repeats):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([bench, "--task", "train"] + workload + ["--precision", precision, "--threads", str(threads),
                        "--warmup", str(warmup), "--repeats", str(repeats), "--json", out.name],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            return json.load(f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sit-bench", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ceiling = {"fp32": matmul_ceiling(torch.float32, args.threads),
               "bf16": matmul_ceiling(torch.bfloat16, args.threads)}
    print(f"matmul ceiling on {args.threads} threads: fp32 {ceiling['fp32']:.0f} GFLOP/s, "
          f"bf16 {ceiling['bf16']:.0f} GFLOP/s")
    print("| workload | fp32 ms | bf16 ms | fp32 share of its ceiling | bf16 share of its ceiling | "
          "bf16 speed-up (range) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, workload in WORKLOADS:
        runs = {"fp32": [], "bf16": []}
        for r in range(args.rounds):
            for precision in (("fp32", "bf16") if r % 2 == 0 else ("bf16", "fp32")):
                runs[precision].append(step(args.sit_bench, workload, precision, args.threads, args.warmup,
                                            args.repeats))
        ms = {p: statistics.median(run["median_ms"] for run in runs[p]) for p in runs}
        share = {p: runs[p][0]["flops"] / (ms[p] / 1000) / 1e9 / ceiling[p] for p in runs}
        speedups = [f["median_ms"] / b["median_ms"] for f, b in zip(runs["fp32"], runs["bf16"])]
        print(f"| {name} | {ms['fp32']:,.0f} | {ms['bf16']:,.0f} | {share['fp32']:.0%} | {share['bf16']:.0%} | "
              f"{statistics.median(speedups):.2f} ({min(speedups):.2f}-{max(speedups):.2f}) |", flush=True)


if __name__ == "__main__":
    main()
