#!/usr/bin/env bash
# README command (2): install what is missing, build every tree, run the whole test suite.
#   build/release      the program and the tests that run real hosts (labels: integration, host)
#   build/asan         ASan+UBSan with clang: unit, integration and fuzz tests (about 30 s a target)
#   build/models-only  the models layer alone, as on the GPU machine (label: plain)
# ccache makes rebuilds of unchanged code cheap. Exits non-zero if any build or test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
log_dir=build/test-logs
mkdir -p "$log_dir"

bash scripts/setup.sh

jobs=$(nproc)
passed=0
failed=0
run_tree() {
  local preset=$1 t0 rc
  t0=$(date +%s)
  echo "== [$preset] configure and build"
  cmake --preset "$preset" >"$log_dir/$preset.configure.log" 2>&1 \
    || { cat "$log_dir/$preset.configure.log"; return 1; }
  cmake --build --preset "$preset"
  echo "== [$preset] test"
  rc=0
  ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$log_dir/$preset.ctest.log" || rc=$?
  local summary
  summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log_dir/$preset.ctest.log" | tail -n 1 || true)
  if [[ -n "$summary" ]]; then
    local total fails
    fails=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$summary")
    total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
  else
    failed=$((failed + 1))
  fi
  echo "== [$preset] $(( $(date +%s) - t0 )) s"
  return "$rc"
}

status=0
run_tree release || status=1
run_tree asan || status=1
run_tree models-only || status=1
echo
echo "all trees: $passed passed, $failed failed"
exit "$status"
