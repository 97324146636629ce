#!/bin/sh
# Re-runs the PyTorch reference (Debian's python3 and python3-torch) and compares what it
# produces with the golden fixtures in data/fixtures/: the fixtures the C++ is tested against
# must be exactly what the reference computes. Exit 77 (skipped, shown by ctest) without torch.
set -eu
python=/usr/bin/python3
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "SKIPPED: $python cannot import torch (install python3-torch: scripts/setup.sh does)"
  exit 77
fi
exec "$python" "$(dirname "$0")/../../models/train/make_fixtures.py" --check
