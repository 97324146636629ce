#!/usr/bin/env python3
"""Writes the beam search's golden fixture: what ctc_beam.py (the reference) decodes from a few
seeded logit sequences with a tiny word LM, so the C++ decoder (engine/ctc_prefix_beam_decoder)
can be held to it (tests/engine/test_ctc_beam_decoder.cpp).

    /usr/bin/python3 models/train/asr/make_beam_fixture.py [--out-dir data/fixtures] [--check]

Files: ctc_beam_fixture.arpa (a 3-gram, interpolated modified Kneser-Ney by ngram_lm.py, from
the handful of SENTENCES below) and ctc_beam_fixture.safetensors (F64 "logits_<i>": [T, 29]
per case, values that are exact float32, as the engine's model emits; metadata "cases": JSON,
per case its settings, whether the LM is used, and the reference's text, score, acoustic
log p and word frames, plus the text without the LM). The logits are peaky like a trained CTC
model's, and some cases hold near-ties between a word the LM knows and a misspelling of it that
the acoustics prefer by a hair. --check recomputes everything and compares with the files.
"""
import argparse
import json
import os
import sys

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.dirname(_HERE))
import ctc_beam  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from ngram_lm import read_arpa, train_kneser_ney, write_arpa  # noqa: E402
from text import VOCABULARY  # noqa: E402

SEED = 20261201
V = len(VOCABULARY)
ARPA = "ctc_beam_fixture.arpa"
TENSORS = "ctc_beam_fixture.safetensors"
SENTENCES = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat ran to the door",
    "my dog ran home",
    "the cat ran home",
    "she read the red book",
]
# Per case: what the frames say, near-ties (index of the character in the text, the label the
# acoustics prefer instead, by how many nats), how peaky, whether the LM is used, settings.
CASES = [
    dict(text="the cat sat on the mat", ties=[], confidence=9.0, lm=True, settings={}),
    dict(text="the cat sat on the mat", ties=[(4, "k", 0.4)], confidence=9.0, lm=True,
         settings={}),
    dict(text="a cat ran to the door", ties=[(2, "k", 0.3), (17, "u", 0.5)], confidence=7.0,
         lm=True, settings=dict(beam=8, lm_weight=0.8, word_bonus=0.5)),
    dict(text="she read the zebra book", ties=[(5, "e", 0.2)], confidence=5.0, lm=True,
         settings=dict(beam=16, prune_top_k=12, prune_log_prob=-8.0)),
    dict(text=None, ties=[], confidence=4.0, lm=True, settings=dict(beam=12)),
    dict(text="my dog ran home", ties=[(3, "t", 0.3)], confidence=6.0, lm=False, settings={}),
    dict(text="the dog sat on the log", ties=[(4, "b", 0.2)], confidence=8.0, lm=True,
         settings=dict(beam=1)),
    dict(text="the cat ran home the dog sat on the mat", ties=[(4, "k", 0.3)], confidence=8.0,
         lm=True, settings=dict(max_pending_labels=5, beam=6)),
    dict(text="she read the red book", ties=[(9, "i", 0.3)], confidence=4.5, lm=True,
         settings=dict(beam=64, prune_top_k=V, prune_log_prob=-30.0, lm_weight=1.5,
                       word_bonus=-0.5)),
]


def index(char: str) -> int:
    return VOCABULARY.index(char)


def spoken_logits(case: dict, rng: np.random.Generator) -> np.ndarray:
    """Each character 1-3 frames, 1-4 blank frames before it, noise of sd 1 on every label,
    the intended label `confidence` above; a tie puts another label above it."""
    if case["text"] is None:  # no words at all: a peaky random label stream (mostly garbage)
        frames = 90
        rows = np.where(rng.random(frames) < 0.55, 0, rng.integers(1, V, frames))
        tied = [None] * frames
    else:
        rows, tied = [], []
        ties = {at: (label, margin) for at, label, margin in case["ties"]}
        for at, char in enumerate(case["text"]):
            for _ in range(int(rng.integers(1, 5))):
                rows.append(0)
                tied.append(None)
            for _ in range(int(rng.integers(1, 4))):
                rows.append(index(char))
                tied.append(ties.get(at))
        rows += [0, 0, 0]
        tied += [None] * 3
    logits = rng.normal(0.0, 1.0, (len(rows), V))
    for t, label in enumerate(rows):
        logits[t, label] += case["confidence"]
        if tied[t] is not None:
            other, margin = tied[t]
            logits[t, index(other)] = logits[t, label] + margin
    return logits.astype(np.float32).astype(np.float64)  # what a float32 model could emit


def build_lm(out_dir: str):
    """The fixture's LM, through an ARPA round trip (the C++ reads the file, so must we)."""
    path = os.path.join(out_dir, ARPA)
    model = train_kneser_ney([s.split() for s in SENTENCES], order=3)
    model.description.insert(0, "statestream CTC beam fixture LM: models/train/asr/"
                                "make_beam_fixture.py SENTENCES")
    return model, path


# Every case's settings start from these, written into the fixture, so tuning the shipped
# defaults (engine/ctc_beam_settings.hpp) never changes the golden values.
FIXTURE_BASE_SETTINGS = dict(beam=16, lm_weight=0.3, word_bonus=2.5, prune_top_k=8,
                             prune_log_prob=-10.0, max_pending_labels=128)


def compute(lm):
    rng = np.random.default_rng(SEED)
    results = []
    for case in CASES:
        logits = spoken_logits(case, rng)
        settings = dict(FIXTURE_BASE_SETTINGS)
        settings.update(case["settings"])
        with_lm = ctc_beam.decode_hypothesis(logits, lm if case["lm"] else None, **settings)
        without_lm = ctc_beam.decode_hypothesis(logits, None, **settings)
        results.append((logits, {
            "spoken": case["text"], "lm": case["lm"], "settings": settings,
            "text": with_lm.text, "score": with_lm.score, "log_p": with_lm.log_p,
            "words": [[w.first_frame, w.last_frame] for w in with_lm.words],
            "text_without_lm": without_lm.text,
        }))
    return results


def check(out_dir: str) -> int:
    """Recomputes the fixture from the files' LM and compares; returns the number of failures."""
    metadata, tensors = read_safetensors(os.path.join(out_dir, TENSORS))
    cases = json.loads(metadata["cases"])
    failures = 0
    model, _ = build_lm(out_dir)
    on_disk_lm = read_arpa(os.path.join(out_dir, ARPA))
    for k, level in enumerate(model.entries):
        if set(level) != set(on_disk_lm.entries[k]):
            print(f"MISMATCH {ARPA}: the {k + 1}-grams differ from SENTENCES'")
            failures += 1
    for i, (logits, want) in enumerate(compute(on_disk_lm)):
        shape, values = tensors[f"logits_{i}"]
        if shape != list(logits.shape) or values != logits.reshape(-1).tolist():
            print(f"MISMATCH {TENSORS}: logits_{i}")
            failures += 1
        for key in ("text", "text_without_lm", "words", "settings", "lm"):
            if cases[i][key] != want[key]:
                print(f"MISMATCH {TENSORS}: case {i} {key}: {cases[i][key]!r} != {want[key]!r}")
                failures += 1
        for key in ("score", "log_p"):
            if abs(cases[i][key] - want[key]) > 1e-9 * max(1.0, abs(want[key])):
                print(f"MISMATCH {TENSORS}: case {i} {key}: {cases[i][key]} != {want[key]}")
                failures += 1
    return failures


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.join(root, "data", "fixtures"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        failures = check(args.out_dir)
        print(f"checked {os.path.join(args.out_dir, TENSORS)}: {failures} failed")
        sys.exit(1 if failures else 0)
    model, arpa_path = build_lm(args.out_dir)
    write_arpa(model, arpa_path)
    results = compute(read_arpa(arpa_path))
    tensors = [(f"logits_{i}", list(logits.shape), logits.reshape(-1).tolist())
               for i, (logits, _) in enumerate(results)]
    cases = [meta for _, meta in results]
    path = os.path.join(args.out_dir, TENSORS)
    size = write_safetensors(path, tensors, {"cases": json.dumps(cases)}, dtype="F64")
    counts = ", ".join(f"{len(level)} {k}-grams" for k, level in enumerate(model.entries, 1))
    print(f"wrote {arpa_path} ({counts}) and {path} ({size} bytes)")
    for i, meta in enumerate(cases):
        print(f"  case {i}: {meta['text']!r} (without the LM: {meta['text_without_lm']!r}), "
              f"score {meta['score']:.6f}")


if __name__ == "__main__":
    main()
