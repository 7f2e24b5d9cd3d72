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
# Side by side with plain PyTorch eager on the same card, equal precision, then sit's fast path.
python3 "$root/examples/sit-bench/side_by_side.py" --sit-bench "$bench" --device cuda --threads 8 \
    --rounds 1 --warmup 1 --repeats 3 --precision bf16 --only sample --json "$logs/sample_bf16.json" 2>&1 | tee "$logs/side_by_side_bf16.txt"
python3 "$root/examples/sit-bench/side_by_side.py" --sit-bench "$bench" --device cuda --threads 8 \
    --rounds 1 --warmup 1 --repeats 3 --precision bf16 --only sample --sit-extra "--cuda-graph" --json "$logs/sample_bf16_graph.json" 2>&1 | tee "$logs/side_by_side_bf16_graph.txt"
python3 "$root/examples/sit-bench/side_by_side.py" --sit-bench "$bench" --device cuda --threads 8 \
    --rounds 1 --warmup 2 --repeats 5 --precision bf16 --only train --json "$logs/train_bf16.json" 2>&1 | tee "$logs/side_by_side_train_bf16.txt"
