#!/usr/bin/env bash
# The CUDA check, on a machine with a GPU, nvcc, CMake, ninja and PyTorch 2.x but no package
# registry (see ../shared/cuda/README.md; the Debian packages come in .deps/, made by
# pack-deps.sh). Builds sit against the wheel's LibTorch, runs the whole test suite (the cuda label
# included) and the GPU benchmarks, and writes every log under the folder given (default:
# build-cuda/logs). A phase (build: configure, build, test; bench: the benchmarks) runs alone.
#
#   source .deps/unpack.sh && tests/cuda/run.sh "$OUT" [build|bench]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
logs=${1:-$root/build-cuda/logs}
phase=${2:-all}
mkdir -p "$logs"
build=$root/build-cuda
export PYTHONUNBUFFERED=1
# Wall time of each part, for the 10-minute budget of a GPU session.
lap() { echo "$1: done $SECONDS s into the script" | tee -a "$logs/times.txt"; }

if [ "$phase" != bench ]; then
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$logs/gpu.txt"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIT_BUILD_TESTS=ON -DSIT_BUILD_EXAMPLES=ON \
      -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$SIT_DEPS_PREFIX" -DCMAKE_CUDA_ARCHITECTURES=90 \
      > "$logs/configure.txt" 2>&1 || { tail -40 "$logs/configure.txt"; exit 1; }
# -k 0: one target that fails to compile does not hide the others' results.
cmake --build "$build" -j"$(nproc)" -- -k 0 > "$logs/build.txt" 2>&1
build_rc=$?
grep -E "error|FAILED" "$logs/build.txt" | head -40
echo "build exit status: $build_rc"

# The whole suite; install_consumer re-configures a consumer project, which needs nothing new here.
ctest --test-dir "$build" --output-on-failure -j4 --timeout 240 > "$logs/ctest.txt" 2>&1
echo "ctest exit status: $?"
grep -E "tests passed|Passed|Failed|\*\*\*|Timeout" "$logs/ctest.txt" | head -40
"$build/tests/test_cuda" -s > "$logs/test_cuda.txt" 2>&1; tail -5 "$logs/test_cuda.txt"
lap "build and tests"
fi
[ "$phase" = build ] && exit 0

bench=$build/examples/sit-bench/sit-bench
[ -x "$bench" ] || { echo "no sit-bench"; exit 1; }
# The card's bf16 matmul peak, the yardstick of the training target.
python3 - <<'PY' | tee "$logs/matmul_peak.txt"
import torch, time
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16); b = torch.randn_like(a)
for _ in range(3): a @ b
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(20): a @ b
torch.cuda.synchronize(); s = (time.perf_counter() - t) / 20
print(f"bf16 8192^3 matmul: {2 * 8192**3 / s / 1e12:.0f} TFLOP/s")
PY
# Side by side with plain PyTorch eager and torch.compile on the same card, equal precision, and
# sit's CUDA-graph sampler against eager. Time assumed, not yet measured (times.txt logs it): build
# and tests 4 to 5 min (about 40 CPU-minutes of compiling on 16 cores); below, each program's start
# (import, SiT-XL/2 made on the CPU) about 10 s, a sample run 2.7 s and a training step 0.65 s (the
# H200 eager numbers of docs/performance.md), and torch.compile's first call on a fresh machine
# (empty Inductor cache) about 1 min for the guided forward and 2 min for the training step's
# forward and backward: about 5 min of benchmarks, near 10 min in all. So the runs with a compile column come last, where an
# overrun costs only them; a session short of time runs the phases apart (build, then bench).
side_by_side() {
  python3 "$root/examples/sit-bench/side_by_side.py" --sit-bench "$bench" --device cuda --threads 8 \
      --rounds 1 --precision bf16 "$@"
}
side_by_side --warmup 1 --repeats 3 --only sample --sit-extra "--cuda-graph" --json "$logs/sample_bf16_graph.json" \
    2>&1 | tee "$logs/side_by_side_bf16_graph.txt"
lap "sample, eager and sit's CUDA graph"
side_by_side --warmup 2 --repeats 5 --only train --sit-extra "--cuda-graph" --json "$logs/train_bf16_graph.json" \
    2>&1 | tee "$logs/side_by_side_train_bf16_graph.txt"
lap "training step, eager and sit's graphed step"
# Inductor compiles CUDA kernels with triton, which the wheel brings as a dependency.
compile=--compile-column
python3 -c "import triton" 2> /dev/null || { echo "no triton: no torch.compile column"; compile=; }
side_by_side --warmup 1 --repeats 3 --only sample $compile --json "$logs/sample_bf16.json" \
    2>&1 | tee "$logs/side_by_side_bf16.txt"
lap "sample, eager and torch.compile"
side_by_side --warmup 2 --repeats 5 --only train $compile --json "$logs/train_bf16.json" \
    2>&1 | tee "$logs/side_by_side_train_bf16.txt"
lap "training step, eager and torch.compile"
