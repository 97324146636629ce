#!/usr/bin/env python3
"""Writes the recogniser's CI slice: a few held-out test utterances, clean and noisy, as FLAC.

    /usr/bin/python3 -m models.train.asr.make_slice [--eval-shard build/asr_speech/eval_asr_000.ssc]
        [--out data/fixtures/transcribe_slice]

The utterances are the first of evaluate_asr.py's held-out set for each held-out speaker
(flite rms, espeak-ng en-gb-scotland), SLICE_PER_SPEAKER each, in both conditions (the noisy
copy is the test's own: its noise type and SNR). check_slice.py transcribes them with
`statestream transcribe` and compares the corpus WER and CER with expected.json. 16-bit FLAC
(written with sox) keeps the folder under MAX_SLICE_BYTES.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr.evaluate_asr import (DEFAULT_EVAL_SHARD, DEFAULT_SEED, SAMPLE_RATE,  # noqa: E402
                              build_eval_set)

SLICE_DIR = "data/fixtures/transcribe_slice"
SLICE_PER_SPEAKER = 4
MAX_SLICE_BYTES = 1_000_000  # the repository budget for this fixture


def write_flac(path: str, audio: np.ndarray) -> None:
    import scipy.io.wavfile
    pcm = np.clip(np.round(np.asarray(audio, np.float64) * 32767.0), -32768, 32767)
    with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
        scipy.io.wavfile.write(wav.name, SAMPLE_RATE, pcm.astype(np.int16))
        subprocess.run(["sox", wav.name, "-C", "8", path], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-shard", default=DEFAULT_EVAL_SHARD)
    parser.add_argument("--out", default=SLICE_DIR)
    args = parser.parse_args()

    from speech.shard import read_shard
    items = build_eval_set(read_shard(args.eval_shard), DEFAULT_SEED)
    chosen, per_speaker = [], {}
    for clean, noisy in zip(items[0::2], items[1::2]):
        if per_speaker.get(clean.speaker, 0) < SLICE_PER_SPEAKER:
            per_speaker[clean.speaker] = per_speaker.get(clean.speaker, 0) + 1
            chosen += [clean, noisy]
    os.makedirs(args.out, exist_ok=True)
    entries = []
    for item in chosen:
        name = f"{item.name}.flac"
        write_flac(os.path.join(args.out, name), item.audio)
        entries.append({"file": name, "condition": item.condition, "speaker": item.speaker,
                        "noise": item.noise, "snr_db": item.snr_db, "text": item.text,
                        "sentence_id": item.sentence_id})
    manifest = {
        "description": "CI slice of the recogniser's held-out test (evaluate_asr.py): flite rms "
                       "and espeak-ng en-gb-scotland reading held-out sentences, clean and with "
                       "the test's noise; 16 kHz 16-bit FLAC.",
        "made_by": "models/train/asr/make_slice.py",
        "checked_by": "models/train/asr/check_slice.py",
        "source": {"eval_shard": os.path.basename(args.eval_shard), "seed": DEFAULT_SEED},
        "utterances": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"{args.out}: {len(entries)} files, {size} bytes")
    if size > MAX_SLICE_BYTES:
        print(f"the slice is over {MAX_SLICE_BYTES} bytes; lower SLICE_PER_SPEAKER",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
