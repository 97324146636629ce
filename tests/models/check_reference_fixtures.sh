#!/bin/sh
# Re-runs the PyTorch reference (Debian's python3 and python3-torch): first the proofs about
# the reference itself (models/train/check_proofs.py), then a comparison of what it produces
# with the golden fixtures in data/fixtures/, which must be exactly what it computes. Exit 77
# (skipped, shown by ctest) without torch.
set -eu
python=/usr/bin/python3
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "SKIPPED: $python cannot import torch (install python3-torch: scripts/setup.sh does)"
  exit 77
fi
train="$(dirname "$0")/../../models/train"
"$python" "$train/check_proofs.py"
exec "$python" "$train/make_fixtures.py" --check
