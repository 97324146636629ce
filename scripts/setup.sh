#!/usr/bin/env bash
# Installs the Debian 12 packages statestream needs that are not installed yet: one
# `apt-get update`, then one `apt-get install` of exactly the missing ones. Prints nothing and
# changes nothing when all are there, so every entry script runs it first.
#
# The CUDA Toolkit (nvcc) is not a Debian 12 package: install it from the vendor when you want
# the CUDA backend; without it the build skips CUDA (and under CI=true, fails by design).
set -euo pipefail

packages=(
  # toolchain and build
  build-essential cmake ninja-build ccache pkg-config git
  # sanitizer and fuzzing tree (clang's ASan/UBSan runtimes and libFuzzer)
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  # libraries: audio I/O, files, FFT, parallel loops, CLI, JSON, formatting, tests
  portaudio19-dev libsndfile1-dev libfftw3-dev libsamplerate0-dev libtbb-dev
  # a real JACK server (dummy driver) under PortAudio in the engine tests, and our own JACK
  # client that plays a known file into the graph and records what comes back
  jackd2 libjack-jackd2-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev catch2
  # the PyTorch reference (models/train/): a test re-runs it to prove the golden fixtures
  python3 python3-torch
  # feature reference values (dsp fixtures are computed with numpy/scipy, not our own code)
  python3-numpy python3-scipy
  # the forecaster's classical baselines (ETS, ARIMA) in models/train/forecast/backtest.py
  python3-statsmodels
  # `statestream forecast --plot` and scripts/plot_forecast.py draw forecasts with matplotlib
  python3-matplotlib
  # the enhancer's baseline: speexdsp's denoiser, in its quality script and tests (ctypes) and
  # in `statestream bench enhance` (linked)
  libspeexdsp1 libspeexdsp-dev
  # the LV2 plugin: its headers (lv2-dev), lilv for the test host that loads it, real hosts
  # that run it (lv2apply and lv2ls from lilv-utils, jalv), and sord_validate, which
  # lv2_validate runs over its TTL (sordi)
  lv2-dev liblilv-dev lilv-utils jalv sordi
  # the recogniser's baseline: pocketsphinx through its Python bindings, with the US English
  # acoustic model, default LM and CMU dictionary (models/train/asr/pocketsphinx_baseline.py)
  python3-pocketsphinx pocketsphinx-en-us
  # ... and its C library, linked by `statestream bench transcribe` for the same baseline
  libpocketsphinx-dev
  # callgrind and <valgrind/callgrind.h>: instructions per step early and late in a soak
  # (`statestream bench soak --callgrind-windows`, scripts/soak_callgrind.sh)
  valgrind
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null | grep -q '^ii'; then
    missing+=("$package")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: missing ${missing[*]}; run as root or install sudo" >&2; exit 1; }
  as_root=(sudo)
fi
echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
