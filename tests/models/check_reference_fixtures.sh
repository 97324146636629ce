#!/bin/sh
# Re-runs the PyTorch reference (Debian's python3 and python3-torch): first the proofs about
# the reference itself (models/train/check_proofs.py), then a comparison of what it produces
# with the golden fixtures in data/fixtures/, which must be exactly what it computes; last the
# feature fixture, recomputed by its numpy/scipy reference and compared with both the file and
# models/train/features.py (python3-numpy, python3-scipy). Exit 77 (skipped, shown by ctest)
# without torch or scipy.
set -eu
python=/usr/bin/python3
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "SKIPPED: $python cannot import torch (install python3-torch: scripts/setup.sh does)"
  exit 77
fi
if ! "$python" -c "import numpy, scipy.signal" 2>/dev/null; then
  echo "SKIPPED: $python cannot import scipy (install python3-scipy: scripts/setup.sh does)"
  exit 77
fi
train="$(dirname "$0")/../../models/train"
"$python" "$train/check_proofs.py"
"$python" "$train/make_fixtures.py" --check
"$python" "$train/enhance/make_enhancer_fixture.py" --check
"$python" "$train/asr/make_transcriber_fixture.py" --check
exec "$python" "$train/make_dsp_fixtures.py" --check
