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
echo "== transcription: held-out speech (a voice, and sentences, the recogniser never trained on; 16 kHz)"
speech=data/audio/speech_16k.wav
$exe transcribe "$speech" > "$out/speech_16k.txt"            # default: beam search + word LM
$exe transcribe --lm none "$speech" > "$out/speech_16k.greedy.txt"
$exe transcribe --format srt "$speech" 2>/dev/null > "$out/speech_16k.srt"
# The hypotheses beside the reference text of data/audio/speech_16k.words.json, with word errors.
/usr/bin/python3 - "$speech" "$out/speech_16k.txt" "$out/speech_16k.greedy.txt" <<'PY'
import json, sys
sys.path.insert(0, "models/train")
from asr import error_rates
wav, beam, greedy = sys.argv[1:]
reference = json.load(open(wav.replace(".wav", ".words.json")))["text"]
print(f"   {'reference':<20} {reference}")
for name, path in (("beam+lm (default)", beam), ("greedy (--lm none)", greedy)):
    hypothesis = open(path).read().strip()
    edits = error_rates.word_edits(reference, hypothesis)
    print(f"   {name:<20} {hypothesis}\n   {'':<20} word errors {edits.errors} of {edits.reference_length}")
PY
echo "-- the same as subtitles (--format srt), first cues"
head -n 8 "$out/speech_16k.srt" | sed 's/^/   /'
echo "-- speed on one core with each decoder, against pocketsphinx in the same run (bench transcribe --seconds 0.5)"
$exe bench transcribe --seconds 0.5 --json > "$out/bench_transcribe.json"
/usr/bin/python3 - "$out/bench_transcribe.json" <<'PY'
import json, sys
bench = json.load(open(sys.argv[1]))
print(f"   {'decoder':<10} {'RTF':>7} {'RTFx':>5}  {'CPU per 10 ms step, p50 / p99':>30}  {'of which the decoder':>21}")
for name, chain in bench["chains"].items():
    step, decoder = chain["step_us"], chain["decoder_us"]
    print(f"   {name:<10} {chain['rtf']:>7.4f} {chain['rtfx']:>5.0f}  "
          f"{step['p50']:>21.0f} / {step['p99']:.0f} us  {decoder['p50']:>12.1f} / {decoder['p99']:.1f} us")
baseline = bench["baseline"]
if baseline.get("name"):
    print(f"   pocketsphinx RTF {baseline['rtf']:.3f}: {baseline['rtf_ratio_to_ours']:.1f}x the CPU of "
          f"{bench['decoder']['name']}")
else:
    print(f"   (no pocketsphinx baseline: {baseline['why_not']})")
streams = bench["streams"]
print(f"   live streams per core with {streams['decoder']}: {streams['max_streams_fit']} "
      f"(mean round <= {streams['budget_share'] * 100:.0f} % of 10 ms); algorithmic latency "
      f"{bench['latency']['algorithmic_ms']:.0f} ms")
PY

echo
echo "== main job done in ${SECONDS} s (setup and build included). Outputs:"
echo "   $out/tiny_mamba2.info.json"
echo "   $out/mixed_fixture.info.json"
echo "   $out/noisy_speech_48k.enhanced.flac   (before: data/audio/noisy_speech_48k.wav)"
echo "   $out/noisy_speech_48k.gentle.flac     (at most 12 dB of attenuation)"
echo "   $out/noisy_speech_48k.lv2.wav         (through the LV2 plugin in lv2apply)"
echo "   $out/speech_16k.txt, speech_16k.greedy.txt, speech_16k.srt   (transcripts of data/audio/speech_16k.wav)"
echo "   $out/bench_transcribe.json            (statestream bench transcribe --json)"
