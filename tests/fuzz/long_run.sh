#!/bin/sh
# Long fuzz runs, one target at a time (docs/fuzzing.md). Each target starts from a fresh copy
# of its seed corpus so the committed seeds never change; what it finds stays under OUT.
#
#   tests/fuzz/long_run.sh BUILD_DIR OUT_DIR SECONDS target:corpus [target:corpus ...]
#   tests/fuzz/long_run.sh build/asan build/fuzz-long 600 fuzz_tick_parser:tick_parser
#
# Per target it writes OUT/<target>.log (libFuzzer's output with -print_final_stats=1),
# OUT/<target>/corpus/ (the corpus at the end), crash-/timeout-/leak-/oom- files in OUT/<target>/
# and one line in OUT/summary.tsv. It runs under `nice -n 15` because the runs are long and the
# machine is shared.
set -u
if [ $# -lt 4 ]; then
    echo "usage: $0 BUILD_DIR OUT_DIR SECONDS target:corpus..." >&2
    exit 2
fi
build=$1
out=$2
seconds=$3
shift 3
seeds_root=$(cd "$(dirname "$0")" && pwd)/corpus
mkdir -p "$out"
[ -f "$out/summary.tsv" ] || printf 'target\tstart\tseconds\texit\tcorpus_files\tcorpus_bytes\tartifacts\n' > "$out/summary.tsv"

for spec in "$@"; do
    target=${spec%%:*}
    corpus=${spec#*:}
    binary=$build/tests/$target
    if [ ! -x "$binary" ]; then
        echo "$target: $binary is not built" >&2
        continue
    fi
    dir=$out/$target
    rm -rf "$dir"
    mkdir -p "$dir/corpus"
    cp "$seeds_root/$corpus"/* "$dir/corpus/"
    start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    t0=$(date +%s)
    nice -n 15 "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" > "$out/$target.log" 2>&1
    status=$?
    t1=$(date +%s)
    files=$(find "$dir/corpus" -type f | wc -l)
    bytes=$(du -sb "$dir/corpus" | cut -f1)
    artifacts=$(find "$dir" -maxdepth 1 -type f | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$start" "$((t1 - t0))" "$status" \
        "$files" "$bytes" "$artifacts" >> "$out/summary.tsv"
done
