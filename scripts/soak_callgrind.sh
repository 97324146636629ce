#!/usr/bin/env bash
# Instructions per step of every `statestream bench soak` case under callgrind: a window of
# steps early in a run (from step 1000) and the last window of the run, each counted on its own,
# and their ratio. A step that stays O(1) shows a ratio of 1 within noise.
#
# Stepping 10^7 times under valgrind would take days (valgrind emulates each FMA instruction
# with a helper call), so a native pass first steps every case and saves its state at both
# windows' starts, and the valgrind pass starts each window from its saved state (restored bit
# for bit). `--states DIR` reuses the states a timed run saved (`bench soak --save-states DIR`,
# same --steps and --window) and skips the native pass.
#
#   scripts/soak_callgrind.sh [--steps N] [--window N] [--only KEY] [--states DIR]
#                             [--statestream PATH]
# Defaults: 10^7 steps, 1000-step windows, every case, build/release/statestream.
set -euo pipefail

steps=10000000
window=1000
only=""
states=""
exe="build/release/statestream"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --states) states="$2"; shift 2 ;;
    --statestream) exe="$2"; shift 2 ;;
    *) echo "soak_callgrind: unknown argument '$1' (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "soak_callgrind: valgrind not found; run scripts/setup.sh" >&2; exit 1; }
[[ -x "$exe" ]] || { echo "soak_callgrind: $exe is not built; build the release preset or pass --statestream" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
soak=("$exe" bench soak --callgrind-windows --steps "$steps" --callgrind-window "$window")
[[ -n "$only" ]] && soak+=(--only "$only")

if [[ -z "$states" ]]; then
  states="$work/states"
  echo "native pass: $steps steps per case, saving the states where the windows start"
  "${soak[@]}" --save-states "$states" >/dev/null
fi

echo "valgrind pass: each window from its saved state, instrumentation on for the window only"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "${soak[@]}" --states "$states" >"$work/soak.txt" 2>"$work/valgrind.txt" ||
  { cat "$work/soak.txt" "$work/valgrind.txt" >&2; exit 1; }
cat "$work/soak.txt"

# Each window is one dump: its label "soak:KEY:early|late:FIRST:STEPS" is in the dump's
# "desc: Trigger: Client Request:" line, its instruction count in "totals:".
for dump in $(printf '%s\n' "$work"/callgrind.out.* | sort -V); do
  awk '/^desc: Trigger: Client Request: soak:/ { label = $5 }
       /^totals:/ { total = $2 }
       END { if (label != "") print label, total }' "$dump"
done | awk -F'[: ]' '
  { key = $2; steps[key, $3] = $5; ir[key, $3] = $6; first[key, $3] = $4; if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
  END {
    printf "\n%-16s %22s %22s %12s\n", "case", "early Ir/step", "late Ir/step", "late/early"
    for (i = 1; i <= n; ++i) {
      key = order[i]
      early = ir[key, "early"] / steps[key, "early"]
      late = ir[key, "late"] / steps[key, "late"]
      printf "%-16s %12.1f (from %s) %12.1f (from %s) %12.6f\n", key, early, first[key, "early"], late, first[key, "late"], late / early
    }
  }'
