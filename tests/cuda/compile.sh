#!/usr/bin/env bash
# CI's CUDA compile check, for a machine with nvcc but no GPU: builds what CUDA or LibTorch 2.x
# changes (the library with its CUDA kernels, the programs, tests/cuda's test_cuda and the README's
# example) against the CUDA LibTorch of the PyTorch wheel built for nvcc's CUDA major, with the
# CUDA paths on. The other tests hold no CUDA or version-dependent code and are built and run by
# tests/run.sh. Nothing is run here, so test cases are not listed (SIT_TEST_DISCOVERY=OFF). Where
# nvcc, pip or the package registry is missing it prints one line saying it skipped and why, and
# exits 0.
#
# The wheel is downloaded once; what a C++ build needs of it (torch/include, torch/lib,
# torch/share/cmake) is kept in $SIT_CUDA_CACHE (default ~/.cache/sit-cuda-compile), the build in
# build-cuda-ci/ with its logs (configure.txt, build.txt).
#
#   tests/cuda/compile.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-cuda-ci
cache=${SIT_CUDA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sit-cuda-compile}
start=$SECONDS

skip() { echo "CUDA compile check skipped: $*"; exit 0; }
fail() { echo "CUDA compile check failed: $*" >&2; exit 1; }
elapsed() { echo "$(( SECONDS - $1 )) s"; }

nvcc=$(command -v nvcc) || skip "no nvcc on PATH"
# nvcc may be a wrapper script (as /usr/local/bin/nvcc is on some machines); its dry run names the
# toolkit's own bin/, which goes first on PATH so that CMake and torch's CUDA config find it there.
cuda_bin=$("$nvcc" --dryrun -c -x cu /dev/null 2>&1 | sed -n 's/^#\$ _HERE_=//p')
[ -x "$cuda_bin/nvcc" ] || fail "the dry run of $nvcc names no toolkit bin/ (_HERE_=$cuda_bin)"
nvcc=$cuda_bin/nvcc
export PATH=$cuda_bin:$PATH
cuda_version=$("$nvcc" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
cuda_major=${cuda_version%%.*}
# The PyTorch release on the registry built for each CUDA major (2.11.0: the GPU machine's).
case $cuda_major in
  13) torch_version=2.11.0 ;;
  *) skip "nvcc is CUDA '$cuda_version'; no PyTorch wheel is chosen for that CUDA major" ;;
esac

prefix=$cache/torch-$torch_version
if [ ! -d "$prefix/torch/share/cmake/Torch" ]; then
  python3 -m pip --version > /dev/null 2>&1 || skip "python3 has no pip to download torch==$torch_version"
  command -v unzip > /dev/null || fail "unzip is needed to unpack the wheel (Debian: unzip)"
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/download.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  t=$SECONDS
  python3 -m pip download "torch==$torch_version" --no-deps --only-binary=:all: --no-cache-dir \
      --timeout 15 --retries 1 --progress-bar off -d "$work" > "$work/pip.txt" 2>&1 ||
    skip "pip could not download torch==$torch_version: $(grep -o -m1 -E '\[Errno [^]]*\][^'"'"'")]*' "$work/pip.txt" ||
                                                         grep -m1 '^ERROR' "$work/pip.txt" || tail -1 "$work/pip.txt")"
  echo "downloaded torch==$torch_version in $(elapsed $t)"
  wheel=$(ls "$work"/torch-*.whl)
  unzip -q "$wheel" 'torch/include/*' 'torch/lib/*' 'torch/share/cmake/*' torch/version.py \
      -x torch/lib/libtorch_python.so -d "$work/unpacked"
  mv "$work/unpacked" "$prefix"
fi

wheel_cuda=$(sed -n "s/^cuda[^=]*= '\(.*\)'$/\1/p" "$prefix/torch/version.py")
[ -n "$wheel_cuda" ] || fail "torch==$torch_version in $prefix is a CPU build (torch/version.py has no CUDA version)"
[ "${wheel_cuda%%.*}" = "$cuda_major" ] || fail "torch==$torch_version is built for CUDA $wheel_cuda, nvcc is CUDA $cuda_version"

# The link needs the CUDA libraries that the wheel's libraries name; the toolkit has most of them.
# Those it lacks (no GPU here to load them anyway) are left unresolved inside torch's own
# libraries; every symbol that sit's code uses must still resolve.
cuda_lib=$(cd "$cuda_bin/../lib64" && pwd)
system_libs=$(ldconfig -p | awk 'NR > 1 {print $1}')
missing=()
for lib in "$prefix"/torch/lib/*.so; do
  for needed in $(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -e "$prefix/torch/lib/$needed" ] || [ -e "$cuda_lib/$needed" ] || grep -qxF "$needed" <<< "$system_libs" ||
      missing+=("$needed")
  done
done
link_flags="-Wl,-rpath-link,$cuda_lib"
if [ ${#missing[@]} -gt 0 ]; then
  echo "not in $cuda_lib, left unresolved in torch's libraries: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
  link_flags+=" -Wl,--allow-shlib-undefined"
fi

t=$SECONDS
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIT_BUILD_TESTS=ON -DSIT_BUILD_EXAMPLES=ON \
      -DSIT_TEST_DISCOVERY=OFF -DCMAKE_PREFIX_PATH="$prefix/torch/share/cmake" \
      -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_EXE_LINKER_FLAGS="$link_flags" \
      > "$build/configure.txt" 2>&1 || { tail -40 "$build/configure.txt"; fail "configure (log: $build/configure.txt)"; }
grep -F "sit distributed training:" "$build/configure.txt"
echo "configured in $(elapsed $t)"

t=$SECONDS
# -k 0: one target that fails to compile does not hide the others' errors.
targets=(sit sit-train sit-sample sit-bench sit-eval sit-vae sit-phema sit-extract-latents test_cuda readme_example_compile)
if ! cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" -- -k 0 > "$build/build.txt" 2>&1; then
  grep -m 40 -E "error|FAILED" "$build/build.txt"
  fail "build (log: $build/build.txt)"
fi
echo "built in $(elapsed $t)"

# The CUDA-only code is in the library: CUDA graphs (SIT_WITH_CUDA) and the NCCL process group.
symbols=$(nm -C "$build/src/libsit.a" 2> /dev/null)
grep -q "at::cuda::CUDAGraph" <<< "$symbols" || fail "libsit.a has no CUDA graph code: SIT_WITH_CUDA was not defined"
grep -q "c10d::ProcessGroupNCCL" <<< "$symbols" || fail "libsit.a has no NCCL process group (see $build/configure.txt)"
echo "CUDA compile check passed: torch $torch_version (CUDA $wheel_cuda), nvcc $cuda_version, in $(elapsed $start)"
