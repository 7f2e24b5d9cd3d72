# Sourced by smoke.sh and long_run.sh: the harnesses, and the dictionaries each one uses.
SIT_FUZZ_HARNESSES="zip pickle torch_load safetensors npy npz idx image vae_config latent_shards load_sit"

# sit_fuzz_dict HARNESS OUT_FILE: writes the harness's dictionary (libFuzzer takes one -dict file,
# so several are concatenated); prints nothing and writes nothing for a harness without one.
sit_fuzz_dict() {
  local here names
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  case "$1" in
    zip) names="zip" ;;
    pickle) names="pickle" ;;
    torch_load) names="zip pickle" ;;
    npz) names="zip npy" ;;
    npy | latent_shards) names="npy" ;;
    safetensors) names="safetensors" ;;
    load_sit) names="zip pickle safetensors" ;;
    *) return 0 ;;
  esac
  : > "$2"
  for name in $names; do cat "$here/$name.dict" >> "$2"; done
}

# The sanitizer settings of a run (tests/sanitizers/asan.options; LeakSanitizer on). No
# suppressions: the unit tests and harnesses run clean against Debian's libtorch 1.13.1.
sit_fuzz_environment() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  export ASAN_OPTIONS="${ASAN_OPTIONS:-$(grep -v '^#' "$here/sanitizers/asan.options" | paste -sd:)}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
}
