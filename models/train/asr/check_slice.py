#!/usr/bin/env python3
"""CI check of the shipped recogniser: the held-out slice through `statestream transcribe`.

    /usr/bin/python3 models/train/asr/check_slice.py --statestream build/release/statestream
        [--model data/models/transcriber.safetensors] [--slice data/fixtures/transcribe_slice]
        [--write-expected]

Transcribes every file of the slice (make_slice.py) twice with the engine's command line, with
the default decoder (prefix beam search and the shipped LM) and greedy (--lm none), and
compares the corpus WER and CER per condition with expected.json. A rate above its expected
value plus the margin stored there fails: exit code 1, naming the figure, its value, the
expected value and the margin. --write-expected records the current figures (keeping the
margins) after a deliberate model change; the model card quotes them. Exit code 77 (ctest's
skip) when the statestream binary is missing.
"""
import argparse
import json
import os
import sys
from typing import Dict, List

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import error_rates  # noqa: E402
from asr.evaluate_asr import transcribe_files  # noqa: E402
from enhance.check_slice import load_json  # noqa: E402  (the enhancer's slice reads alike)

SLICE_DIR = "data/fixtures/transcribe_slice"
DEFAULT_MODEL = "data/models/transcriber.safetensors"
DEFAULT_STATESTREAM = "build/release/statestream"
EXIT_SKIP = 77
DECODERS = {"beam+lm": [], "greedy": ["--lm", "none"]}
# The engine is deterministic on one machine; across CPUs float rounding can flip a close
# call. One flipped word of the slice's 67 words per condition is 1.5 points of WER, so the
# margin lets one word through and fails on two; the previous model, a wrong front-end or a
# broken decoder costs 9 to tens of points.
DEFAULT_MARGINS = {"wer": 0.025, "cer": 0.012}


def figures_of(manifest: Dict, paths: List[str], texts: Dict[str, str]) -> Dict[str, Dict]:
    out = {}
    for condition in ("clean", "noisy"):
        pairs = [(entry["text"], texts.get(path, "")) for entry, path in
                 zip(manifest["utterances"], paths) if entry["condition"] == condition]
        table = error_rates.score_pairs([r for r, _ in pairs], [h for _, h in pairs])
        out[condition] = {
            "wer": error_rates.corpus_rate(table["word_errors"], table["words"]),
            "cer": error_rates.corpus_rate(table["char_errors"], table["chars"]),
            "utterances": len(pairs), "words": int(sum(table["words"]))}
    return out


def compare(figures: Dict, expected: Dict, expected_path: str) -> List[str]:
    margins = expected.get("margins", DEFAULT_MARGINS)
    failures = []
    for decoder, conditions in expected["figures"].items():
        for condition, wanted in conditions.items():
            for key in ("wer", "cer"):
                value = figures[decoder][condition][key]
                ceiling = wanted[key] + margins[key]
                if value > ceiling:
                    failures.append(
                        f"{decoder} {condition} {key.upper()} is {100 * value:.2f} %, expected "
                        f"{100 * wanted[key]:.2f} % with a margin of {100 * margins[key]:.1f} "
                        f"points, so at most {100 * ceiling:.2f} % ({expected_path})")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statestream", default=DEFAULT_STATESTREAM)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--slice", default=SLICE_DIR)
    parser.add_argument("--write-expected", action="store_true")
    args = parser.parse_args()
    expected_path = os.path.join(args.slice, "expected.json")
    if not os.path.isfile(args.statestream):
        print(f"SKIP: {args.statestream}: no statestream binary there; build it (cmake --build "
              "--preset release) or pass --statestream PATH", file=sys.stderr)
        return EXIT_SKIP
    manifest = load_json(os.path.join(args.slice, "manifest.json"),
                         "write the slice with models/train/asr/make_slice.py")
    paths = [os.path.join(args.slice, entry["file"]) for entry in manifest["utterances"]]
    figures = {}
    for decoder, options in DECODERS.items():
        try:
            texts = transcribe_files(args.statestream, paths, ["--model", args.model, *options])
        except RuntimeError as error:
            print(f"FAIL: {error}", file=sys.stderr)
            return 1
        figures[decoder] = figures_of(manifest, paths, texts)
        for condition, figure in figures[decoder].items():
            print(f"{decoder:>8} {condition}: WER {100 * figure['wer']:6.2f} % CER "
                  f"{100 * figure['cer']:5.2f} % ({figure['utterances']} utterances, "
                  f"{figure['words']} words)")
    if args.write_expected:
        margins = DEFAULT_MARGINS
        if os.path.isfile(expected_path):
            margins = load_json(expected_path, "").get("margins", DEFAULT_MARGINS)
        with open(expected_path, "w", encoding="utf-8") as handle:
            json.dump({"model": os.path.basename(args.model), "margins": margins,
                       "figures": {d: {c: {"wer": f["wer"], "cer": f["cer"]}
                                       for c, f in conds.items()}
                                   for d, conds in figures.items()}}, handle, indent=1)
            handle.write("\n")
        print(f"wrote {expected_path}")
        return 0
    expected = load_json(expected_path, "record it with --write-expected after checking the "
                                        "model's card")
    failures = compare(figures, expected, expected_path)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if not failures:
        print("the shipped recogniser scores within its margins on the slice")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
