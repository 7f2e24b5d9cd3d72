#!/usr/bin/env bash
# The docs and --help agree: every flag that a command line of a markdown file's sh blocks gives to
# sit-train, sit-sample, sit-bench, sit-eval or sit-phema is one that the program (or its subcommand) has.
#   readme_flags.sh BIN_DIR FILE.md...   (BIN_DIR holds sit-train/, sit-sample/, sit-bench/, sit-eval/, sit-phema/)
set -euo pipefail
bins=$1
shift
[ $# -gt 0 ] || { echo "usage: readme_flags.sh BIN_DIR FILE.md..." >&2; exit 2; }
checked=0
missing=0
# Each program's --help (and its subcommand's), asked once: a start of a program costs ~0.5 s.
declare -A helps
help_of() {
  local key="$1 $2"
  if [ -z "${helps[$key]+set}" ]; then
    helps[$key]=$("$bins/$1/$1" --help; [ -n "$2" ] && "$bins/$1/$1" "$2" --help || true)
  fi
  help=${helps[$key]}
}
for doc in "$@"; do
  # The sh blocks' lines, continuations joined.
  lines=$(awk '/^```sh/{on=1; next} /^```/{on=0} on' "$doc" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
  while IFS= read -r line; do
    line=${line%%#*}  # comments
    for program in sit-train sit-sample sit-bench sit-eval sit-phema; do
      rest=$(grep -oE "(^|[ (])$program( .*|$)" <<<"$line" | head -n1) || continue
      rest=${rest#*"$program"}
      rest=${rest%%[;&|]*}
      sub=$(grep -oE '(^| )(ODE|SDE|train-classifier|score|stats|compare|features)( |$)' <<<"$rest" | head -n1 | tr -d ' ') || true
      help_of "$program" "$sub"
      for flag in $(grep -oE -- '(^| |\[)--[a-z][a-z0-9-]*' <<<"$rest" | tr -d ' ['); do
        checked=$((checked + 1))
        if ! grep -qE -- "(^| |,)$flag([ =,]|$)" <<<"$help"; then
          echo "$doc gives $program ${sub:+$sub }$flag, which its --help does not list"
          missing=$((missing + 1))
        fi
      done
    done
  done <<<"$lines"
done
echo "$checked flags of $# markdown files checked against --help, $missing missing"
[ "$checked" -gt 20 ] && [ "$missing" -eq 0 ]
