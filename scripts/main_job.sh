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
echo "== forecasting: four monthly series as interleaved tick streams (gas and FrozenJuice.price held out, AirPassengers and DutchSales trained on)"
# One season for every stream of a run, so all four are monthly (season 12). Timestamps are the
# series' decimal years written as integer nanoseconds, as training converted them (round(t * 1e9),
# models/train/forecast/dataset.py): only the time steps reach the model, so the unit is free.
ticks="$out/forecast_ticks.csv"
/usr/bin/python3 - "$ticks" gas FrozenJuice.price AirPassengers DutchSales <<'PY'
import sys
sys.path.insert(0, "models/train")
from forecast.dataset import time_to_ns
from forecast.real_series import load_series
path, names = sys.argv[1], sys.argv[2:]
ticks = []
for name in names:
    series = load_series(name)
    for order, (t_ns, value) in enumerate(zip(time_to_ns(series.times), series.values)):
        ticks.append((int(t_ns), names.index(name), order, name, "" if value != value else repr(float(value))))
ticks.sort()   # by time; a stream's own ticks keep their order
with open(path, "w") as f:
    f.write("stream_id,timestamp,value\n")
    f.writelines(f"{name},{t_ns},{value}\n" for t_ns, _, _, name, value in ticks)
print(f"   {len(ticks)} ticks of {len(names)} streams in {path}")
PY
$exe forecast --input "$ticks" --season 12 --horizon 12 --output "$out/forecast.csv" \
  --plot "$out/forecast_gas.png" --plot-stream gas 2> "$out/forecast.log"
sed 's/^/   /' "$out/forecast.log"
echo "   (the plot's seconds are years since the first tick)"
echo "-- accuracy per stream over every forecast after the first 24 ticks (MAE of q50 relative to the stream's in-sample seasonal-naive MAE, and the share of values inside q10..q90; 0.80 is the target)"
/usr/bin/python3 - "$ticks" "$out/forecast.csv" <<'PY'
import collections, csv, sys
values = collections.defaultdict(list)
with open(sys.argv[1]) as f:
    for row in csv.DictReader(f):
        values[row["stream_id"]].append(float(row["value"]) if row["value"] else float("nan"))
forecasts = collections.defaultdict(list)
with open(sys.argv[2]) as f:
    for row in csv.DictReader(f):
        forecasts[row["stream_id"]].append(row)
print(f"   {'stream':<29} {'ticks':>5}  {'MASE h=1':>8} {'h=12':>6}  {'cov80 h=1':>9} {'h=12':>5}")
for stream, v in values.items():
    pairs = [(v[i], v[i - 12]) for i in range(12, len(v)) if v[i] == v[i] and v[i - 12] == v[i - 12]]
    scale = sum(abs(a - b) for a, b in pairs) / len(pairs)
    cells = []
    for h in (1, 12):
        errors, inside = [], []
        for i, row in enumerate(forecasts[stream][24:], start=24):
            if i + h < len(v) and v[i + h] == v[i + h]:
                errors.append(abs(float(row[f"q50_h{h}"]) - v[i + h]))
                inside.append(float(row[f"q10_h{h}"]) <= v[i + h] <= float(row[f"q90_h{h}"]))
        cells.append((sum(errors) / len(errors) / scale, sum(inside) / len(inside)))
    held_out = " (held out)" if stream in ("gas", "FrozenJuice.price") else ""
    print(f"   {stream + held_out:<29} {len(v):>5}  {cells[0][0]:>8.2f} {cells[1][0]:>6.2f}  "
          f"{cells[0][1]:>9.2f} {cells[1][1]:>5.2f}")
PY
echo "-- --state-dir: the same file split in two and run as two commands, the second continuing from the snapshots"
state="$out/forecast_state"
rm -rf "$state"
half=$(( ($(wc -l < "$ticks") + 1) / 2 ))
head -n "$half" "$ticks" > "$out/forecast_ticks.part1.csv"
{ head -n 1 "$ticks"; tail -n +"$(( half + 1 ))" "$ticks"; } > "$out/forecast_ticks.part2.csv"
for part in 1 2; do
  $exe forecast --input "$out/forecast_ticks.part$part.csv" --season 12 --horizon 12 --state-dir "$state" \
    --output "$out/forecast.part$part.csv" 2> "$out/forecast.part$part.log"
  echo "   run $part: $(grep -o 'state dir .*' "$out/forecast.part$part.log")"
done
echo "   (AirPassengers ends in the first part, so the second run restores and saves the other three)"
if { cat "$out/forecast.part1.csv"; tail -n +2 "$out/forecast.part2.csv"; } | cmp -s - "$out/forecast.csv"; then
  echo "   the two runs' lines, joined, equal the one-pass run's byte for byte ($(( $(wc -l < "$out/forecast.csv") - 1 )) forecasts)"
else
  echo "   the split run differs from the one-pass run" >&2
  exit 1
fi
echo "-- bad lines are reported with their line numbers, the rest is forecast, and the exit code is 3"
cat > "$out/forecast_ticks_bad.csv" <<'CSV'
stream_id,timestamp,value
sensor-1,10.0,20.5
sensor-1,11.0,20.7
sensor-1,12.0,twenty
sensor-1,13.0
sensor-1,1.2.3,20.9
sensor-1,9.0,20.4
sensor-1,14.0,21.0
CSV
rc=0
$exe forecast --input "$out/forecast_ticks_bad.csv" --horizon 3 --output "$out/forecast_bad.csv" \
  2> "$out/forecast_bad.log" || rc=$?
grep '^statestream forecast:' "$out/forecast_bad.log" | sed 's/^/   /'
grep '^forecast: .* lines, ' "$out/forecast_bad.log" | sed 's/^/   /'
echo "   exit code $rc; $(( $(wc -l < "$out/forecast_bad.csv") - 1 )) forecasts written for the 3 good ticks"
if [ "$rc" -ne 3 ]; then echo "   expected exit code 3 (bad lines skipped)" >&2; exit 1; fi
echo "-- speed on this machine: bench forecast, 128 streams x 200 ticks (synthetic seasonal random walks)"
$exe bench forecast --streams 128 --ticks 200 --json > "$out/bench_forecast.json"
/usr/bin/python3 - "$out/bench_forecast.json" <<'PY'
import json, sys
bench = json.load(open(sys.argv[1]))
step, throughput, e2e = bench["step_cpu_us"], bench["throughput"], bench["end_to_end"]
n = bench["workload"]["streams"]
print(f"   CPU per tick, 1 stream: p50 {step['one_stream']['p50']:.1f} us, p99 {step['one_stream']['p99']:.1f} us; "
      f"per stream-tick in a round of {n}: {step['n_streams_per_stream_tick_mean']:.1f} us "
      f"(H = {bench['model']['horizon']}, {bench['model']['parameters']} parameters)")
for key in ("one_at_a_time", "batched_1_thread", "batched_tbb"):
    row = throughput[key]
    name = row["name"] + (f" ({bench['workload']['threads']} threads)" if key == "batched_tbb" else "")
    print(f"   {name:<44} {row['stream_ticks_per_s'] / 1e3:5.0f} k stream-ticks/s")
print(f"   end to end (parse, forecast, format CSV): {e2e['ticks_per_s'] / 1e3:.1f} k ticks/s; "
      f"memory per stream {bench['memory']['bytes_per_stream']} bytes; batched vs one at a time: "
      f"max difference {bench['agreement']['max_abs_difference']} over {bench['agreement']['values']} quantiles")
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
echo "   $out/forecast.csv, forecast_gas.png   (forecasts of $out/forecast_ticks.csv; the plot draws gas)"
echo "   $out/forecast_state/                  (the streams' snapshots after the split run)"
echo "   $out/bench_forecast.json              (statestream bench forecast --json)"
