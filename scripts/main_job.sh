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
echo "== speech enhancement: a held-out noisy clip (unseen voice, sentence and talkers; 48 kHz)"
$exe enhance data/audio/noisy_speech_48k.wav "$out/noisy_speech_48k.enhanced.flac"
$exe enhance data/audio/noisy_speech_48k.wav "$out/noisy_speech_48k.gentle.flac" --atten-limit-db 12
$exe enhance --measure-latency
$exe enhance --measure-latency --rate 16000
echo "-- the same enhancer as an LV2 plugin inside a real host (lv2apply), from the build tree's bundle"
t0=$(date +%s%N)
LV2_PATH="$PWD/build/release/lv2:/usr/lib/lv2" lv2apply -i data/audio/noisy_speech_48k.wav \
  -o "$out/noisy_speech_48k.lv2.wav" urn:statestream:enhancer
t1=$(date +%s%N)
echo "   lv2apply (one frame per run(), output late by the latency port, 960 frames): $(( (t1 - t0) / 1000000 )) ms wall for 4 s"
echo "-- the CI slice of the held-out set, through the engine, against the model card's figures"
/usr/bin/python3 models/train/enhance/check_slice.py --statestream "$exe" | tail -n 3
echo "-- speed on one core, against speexdsp in the same run"
$exe bench enhance --seconds 0.3

echo
echo "== main job done in ${SECONDS} s (setup and build included). Outputs:"
echo "   $out/tiny_mamba2.info.json"
echo "   $out/mixed_fixture.info.json"
echo "   $out/noisy_speech_48k.enhanced.flac   (before: data/audio/noisy_speech_48k.wav)"
echo "   $out/noisy_speech_48k.gentle.flac     (at most 12 dB of attenuation)"
echo "   $out/noisy_speech_48k.lv2.wav         (through the LV2 plugin in lv2apply)"
