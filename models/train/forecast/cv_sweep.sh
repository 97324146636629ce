#!/bin/sh
# Cross-validation runs on the GPU machine (RECIPE.md, "Cross-validation over the training
# datasets"): every CONFIG x seed x fold trains at once with that fold's datasets left out
# (train.py --exclude-fold I/K) and is exported; FINAL runs train on every training series.
# The backtests of the left-out folds run afterwards on a CPU (cv_score.py).
#
#   [MINUTES=6.5] [WORKERS=1] sh models/train/forecast/cv_sweep.sh OUT STEPS FOLDS \
#       "NAME:SPEC_VERSION:SEED ..." ["NAME:SPEC_VERSION:SEED ..."]
#
# Writes OUT/<NAME>_s<SEED>_f<I>/{train.txt, log.json, checkpoint.pt, forecaster.safetensors}
# and, for the optional second list, OUT/<NAME>_s<SEED>_all/ likewise.
set -eu
out=$1; steps=$2; folds=$3; configs=$4; finals=${5:-}
py=${PYTHON:-python3}
mkdir -p "$out"

run() {  # run NAME VERSION SEED EXCLUDE(I/K or "")
  dir=$out/$1; mkdir -p "$dir"
  ( $py models/train/forecast/train.py ${4:+--exclude-fold "$4"} --spec-version "$2" \
        --seed "$3" --steps "$steps" --minutes "${MINUTES:-6.5}" --batch 256 --crop 256 \
        --workers "${WORKERS:-1}" --threads 1 --val-every "$steps" --log-every 500 \
        --out "$dir" > "$dir/train.txt" 2>&1 &&
    $py models/train/forecast/export_forecaster.py --checkpoint "$dir/checkpoint.pt" \
        --out "$dir/forecaster.safetensors" >> "$dir/train.txt" 2>&1 ) || echo "FAILED $1" &
}

for config in $configs; do
  IFS=: read -r name version seed <<CONFIG
$config
CONFIG
  fold=0
  while [ "$fold" -lt "$folds" ]; do
    run "${name}_s${seed}_f${fold}" "$version" "$seed" "$fold/$folds"
    fold=$((fold + 1))
  done
done
for config in $finals; do
  IFS=: read -r name version seed <<CONFIG
$config
CONFIG
  run "${name}_s${seed}_all" "$version" "$seed" ""
done
wait
for dir in "$out"/*/; do
  echo "== $dir"; grep -E "^step|^saved|^wrote|Error|error" "$dir/train.txt" | tail -3
done
