#!/usr/bin/env python3
"""CI check of the shipped enhancer: the held-out slice through `statestream enhance`, scored.

    /usr/bin/python3 models/train/enhance/check_slice.py
        --statestream build/release/statestream [--model data/models/enhancer.safetensors]
        [--slice data/fixtures/enhance_slice] [--write-expected]
        [--expected data/fixtures/enhance_slice/expected.json]

Enhances every clip of the slice (make_slice.py) with the engine's command line, then compares
the mean SI-SDR improvement and the mean STOI per sample rate with expected.json. A figure below
its expected value minus the margin stored there (SI-SDRi 0.1 dB, STOI 0.003) fails the check:
exit code 1, with the figure, its value, the expected value and the margin. --write-expected
records the current figures instead (keeping the margins), after a deliberate model change.
Exit code 77 (ctest's skip) when the statestream binary is missing.

--engine torch runs model.py's enhance() instead of the binary: the reference chain, for
recording or comparing figures while the engine's command is not available.
"""
import argparse
import json
import os
import sys
import tempfile
from typing import Dict, List

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from enhance.evaluate import (DEFAULT_MODEL, DEFAULT_STATESTREAM, read_wav,  # noqa: E402
                              run_cli_enhance)
from enhance.metrics import si_sdr, stoi  # noqa: E402

SLICE_DIR = "data/fixtures/enhance_slice"
EXIT_SKIP = 77          # ctest SKIP_RETURN_CODE
# The engine is deterministic on a given model file (up to float rounding across CPUs), so the
# margins can be tight: wide enough for rounding, narrow enough that a changed window, band
# layout or resampler shows (a sqrt-Hann window in place of the model's vorbis costs 0.5 dB).
DEFAULT_MARGINS = {"si_sdri_db": 0.1, "stoi": 0.003}
FIGURE_LABELS = {"si_sdri_db": ("mean SI-SDRi", " dB"), "stoi": ("mean STOI", "")}


def load_json(path: str, fix: str) -> Dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise SystemExit(f"{path}: cannot read ({error.strerror}); {fix}") from None
    except ValueError as error:
        raise SystemExit(f"{path}: not valid JSON ({error}); {fix}") from None


def score_slice(slice_dir: str, manifest: Dict, enhance) -> Dict[str, Dict[str, float]]:
    """{rate: {"si_sdri_db": mean, "stoi": mean, "clips": n}} of the enhancer on the slice."""
    per_rate: Dict[str, List[Dict[str, float]]] = {}
    for entry in manifest["clips"]:
        noisy_path = os.path.join(slice_dir, entry["noisy"])
        clean_path = os.path.join(slice_dir, entry["clean"])
        noisy_rate, noisy = read_wav(noisy_path)
        clean_rate, clean = read_wav(clean_path)
        if noisy_rate != entry["sample_rate"] or clean_rate != entry["sample_rate"] \
                or noisy.shape != clean.shape:
            raise SystemExit(f"{slice_dir}: clip {entry['name']}: files do not match the "
                             "manifest (rate or length); rewrite the slice with make_slice.py")
        enhanced = enhance(noisy_path, noisy, noisy_rate)
        scores = {"si_sdri_db": si_sdr(enhanced, clean) - si_sdr(noisy, clean),
                  "stoi": stoi(clean, enhanced, noisy_rate),
                  "noisy_stoi": stoi(clean, noisy, noisy_rate)}
        print(f"{entry['name']:>24}: SI-SDRi {scores['si_sdri_db']:+6.2f} dB, "
              f"STOI {scores['noisy_stoi']:.3f} -> {scores['stoi']:.3f}")
        per_rate.setdefault(str(entry["sample_rate"]), []).append(scores)
    return {rate: {"si_sdri_db": float(np.mean([s["si_sdri_db"] for s in rows])),
                   "stoi": float(np.mean([s["stoi"] for s in rows])), "clips": len(rows)}
            for rate, rows in per_rate.items()}


def compare(figures: Dict, expected: Dict, expected_path: str) -> List[str]:
    """One message per figure below its expected value minus its margin."""
    margins = expected.get("margins", DEFAULT_MARGINS)
    failures = []
    for rate, wanted in expected["figures"].items():
        if rate not in figures:
            failures.append(f"{expected_path} has figures for {rate} Hz but the slice has no "
                            "clip at that rate; re-record with --write-expected")
            continue
        for key, (label, unit) in FIGURE_LABELS.items():
            value, floor = figures[rate][key], wanted[key] - margins[key]
            if value < floor:
                failures.append(
                    f"{int(rate) // 1000} kHz {label} is {value:.3f}{unit}, expected "
                    f"{wanted[key]:.3f}{unit} with a margin of {margins[key]}{unit}, so at "
                    f"least {floor:.3f}{unit}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statestream", default=DEFAULT_STATESTREAM)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--slice", default=SLICE_DIR)
    parser.add_argument("--expected", default=None,
                        help="default: expected.json in the slice folder")
    parser.add_argument("--write-expected", action="store_true")
    parser.add_argument("--engine", choices=("cli", "torch"), default="cli")
    args = parser.parse_args()
    expected_path = args.expected or os.path.join(args.slice, "expected.json")

    if args.engine == "cli" and not os.path.isfile(args.statestream):
        print(f"SKIP: {args.statestream}: no statestream binary there; build it (cmake --build "
              "--preset release) or pass --statestream PATH", file=sys.stderr)
        return EXIT_SKIP
    if not os.path.isfile(args.model):
        print(f"FAIL: {args.model}: no model file there; pass --model PATH", file=sys.stderr)
        return 1
    manifest = load_json(os.path.join(args.slice, "manifest.json"),
                         "write the slice with models/train/enhance/make_slice.py")

    with tempfile.TemporaryDirectory(prefix="enhance_slice_") as work_dir:
        if args.engine == "cli":
            def enhance(noisy_path: str, noisy: np.ndarray, rate: int) -> np.ndarray:
                name = os.path.basename(noisy_path).replace(".noisy.", ".enhanced.")
                out_path = os.path.join(work_dir, name)
                return run_cli_enhance(args.statestream, args.model, noisy_path, out_path,
                                       rate, noisy.shape[0])
        else:
            from enhance.evaluate import TorchEnhancer
            reference = TorchEnhancer(args.model)

            def enhance(noisy_path: str, noisy: np.ndarray, rate: int) -> np.ndarray:
                return reference(noisy, rate, noisy_path)
        try:
            figures = score_slice(args.slice, manifest, enhance)
        except RuntimeError as error:
            print(f"FAIL: {error}", file=sys.stderr)
            return 1
    for rate, figure in sorted(figures.items()):
        print(f"{int(rate) // 1000} kHz ({figure['clips']} clips): mean SI-SDRi "
              f"{figure['si_sdri_db']:+.3f} dB, mean STOI {figure['stoi']:.4f}")

    if args.write_expected:
        margins = DEFAULT_MARGINS
        if os.path.isfile(expected_path):
            margins = load_json(expected_path, "fix or delete it").get("margins", margins)
        record = {"figures": figures, "margins": margins, "model": args.model,
                  "engine": "statestream enhance" if args.engine == "cli"
                  else "model.py enhance() (torch reference)",
                  "note": "means over the slice's clips per sample rate; a figure fails below "
                          "its value minus its margin. Re-record with check_slice.py "
                          "--write-expected after a deliberate model change."}
        with open(expected_path, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1)
            handle.write("\n")
        print(f"recorded {expected_path}")
        return 0

    expected = load_json(expected_path, "record it with check_slice.py --write-expected")
    failures = compare(figures, expected, expected_path)
    for failure in failures:
        print(f"FAIL: {failure} ({expected_path}; model {args.model}). If the model was "
              "changed on purpose, re-record with --write-expected.", file=sys.stderr)
    if not failures:
        print(f"PASS: every figure is within its margin of {expected_path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
