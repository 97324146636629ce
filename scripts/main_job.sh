#!/usr/bin/env bash
# README command (1): install what is missing, build the release tree, and run the main job on
# the data shipped in data/. Each use of statestream adds a short run of itself here; the job
# prints where its outputs went and what it measured.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release

exe=build/release/statestream
out=build/main-job
mkdir -p "$out"
echo
echo "== $($exe --version)"
echo
echo "== model file: validate and describe the shipped test model"
model=data/models/tiny_mamba2.safetensors
t0=$(date +%s%N)
$exe info "$model"
t1=$(date +%s%N)
$exe info --json "$model" > "$out/tiny_mamba2.info.json"
echo "   load + full validation + print: $(( (t1 - t0) / 1000000 )) ms wall (process start included)"
echo
echo "== a hybrid stack: every block type (Mamba-3 SISO and MIMO, Mamba-1, attention, Mamba-2)"
$exe info data/fixtures/mixed_fixture.safetensors
$exe info --json data/fixtures/mixed_fixture.safetensors > "$out/mixed_fixture.info.json"
echo
echo "== devices"
$exe devices

echo
echo "== main job done in ${SECONDS} s (setup and build included). Outputs:"
echo "   $out/tiny_mamba2.info.json"
echo "   $out/mixed_fixture.info.json"
