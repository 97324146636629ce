#!/bin/sh
# Development sweep on the GPU machine: trains several sizes of the forecaster at once with the
# development datasets left out (train.py --dev), exports each and backtests it on those
# datasets with the held-out set's rolling origin. Choices follow from these tables only; the
# held-out series are scored once, by the finished model.
#
#   [MINUTES=5.5] sh models/train/forecast/dev_sweep.sh OUT STEPS NAME:D_MODEL:LAYERS:CROP:BATCH[:SEED[:STEPS]] ...
#
# A config's own STEPS replaces the common one; SEED defaults to 1.
#
# Writes OUT/NAME/{log.json, checkpoint.pt, forecaster.safetensors, dev.json, dev.md}.
set -eu
out=$1; steps=$2; shift 2
py=${PYTHON:-python3}
dev_series="AirPassengers woolyrnq uspop lh presidents NYSESW"
mkdir -p "$out"
for config in "$@"; do
  IFS=: read -r name d_model layers crop batch seed own_steps <<CONFIG
$config
CONFIG
  mkdir -p "$out/$name"
  ( $py models/train/forecast/train.py --dev --seed "${seed:-1}" --steps "${own_steps:-$steps}" --minutes "${MINUTES:-5.5}" --d-model "$d_model" \
        --layers "$layers" --crop "$crop" --batch "$batch" --workers 3 --threads 1 \
        --val-every 1000 --log-every 500 --out "$out/$name" > "$out/$name/train.txt" 2>&1 &&
    $py models/train/forecast/export_forecaster.py --checkpoint "$out/$name/checkpoint.pt" \
        --out "$out/$name/forecaster.safetensors" > "$out/$name/export.txt" 2>&1 &&
    $py models/train/forecast/backtest.py --series $dev_series --engines naive torch \
        --model "$out/$name/forecaster.safetensors" --json "$out/$name/dev.json" \
        > "$out/$name/dev.md" 2>&1 ) &
done
wait
for config in "$@"; do
  name=${config%%:*}
  echo "== $name"; tail -3 "$out/$name/train.txt"; cat "$out/$name/dev.md" | tail -25
done
