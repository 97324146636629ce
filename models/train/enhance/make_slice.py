#!/usr/bin/env python3
"""Writes the enhancer's CI slice: a few short held-out clips, noisy and clean, as WAV files.

    /usr/bin/python3 -m models.train.enhance.make_slice [--eval-shard build/speech/eval_000.ssc]
        [--out data/fixtures/enhance_slice]

The clips are the first clips of evaluate.py's held-out set (same speakers, sentences, noise
types and SNRs, same seed), cut shorter: 6 at 16 kHz of 1.5 s (tones, clicks, pink, babble,
hum, fan at -5, 0, 5, 10, 15, -5 dB) and 2 at 48 kHz of 1 s (tones at -5 dB, clicks at 0 dB).
check_slice.py runs them through `statestream enhance` and compares the mean scores with
expected.json. 16-bit PCM WAV, because this Python has no FLAC writer; that is why the clips
are short: all files together stay under 1 MB in the repository.
"""
import argparse
import json
import os
import sys

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from enhance.evaluate import (DEFAULT_EVAL_SHARD, DEFAULT_SEED, HELDOUT_NOISE_TYPES,  # noqa: E402
                              build_clips, load_eval_utterances, write_wav)

SLICE_DIR = "data/fixtures/enhance_slice"
SLICE_CLIPS16, SLICE_SECONDS16 = 6, 1.5
SLICE_CLIPS48, SLICE_SECONDS48 = 2, 1.0
MAX_SLICE_BYTES = 1_000_000  # the repository budget for this fixture


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-shard", default=DEFAULT_EVAL_SHARD)
    parser.add_argument("--out", default=SLICE_DIR)
    args = parser.parse_args()

    clips = build_clips(load_eval_utterances(args.eval_shard), SLICE_CLIPS16, SLICE_CLIPS48,
                        DEFAULT_SEED, seconds16=SLICE_SECONDS16, seconds48=SLICE_SECONDS48)
    os.makedirs(args.out, exist_ok=True)
    entries = []
    for clip in clips:
        files = {"noisy": f"{clip.name}.noisy.wav", "clean": f"{clip.name}.clean.wav"}
        write_wav(os.path.join(args.out, files["noisy"]), clip.noisy, clip.sample_rate, pcm16=True)
        write_wav(os.path.join(args.out, files["clean"]), clip.clean, clip.sample_rate, pcm16=True)
        entries.append({"name": clip.name, "sample_rate": clip.sample_rate,
                        "seconds": clip.clean.shape[0] / clip.sample_rate, "noise": clip.noise,
                        "held_out_noise": clip.noise in HELDOUT_NOISE_TYPES,
                        "snr_db": clip.snr_db, "speaker": clip.speaker,
                        "sentence_ids": list(clip.sentence_ids), **files})
    manifest = {
        "description": "CI slice of the enhancer's held-out set (evaluate.py): flite awb/rms "
                       "speech of held-out sentences with synthesised noise; noisy = clean + "
                       "noise, both 16-bit PCM mono WAV, time-aligned.",
        "made_by": "models/train/enhance/make_slice.py",
        "checked_by": "models/train/enhance/check_slice.py",
        "source": {"eval_shard": DEFAULT_EVAL_SHARD, "seed": DEFAULT_SEED},
        "clips": entries,
    }
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")

    total = sum(os.path.getsize(os.path.join(args.out, name)) for name in os.listdir(args.out))
    print(f"wrote {len(clips)} clips to {args.out}: {total} bytes in all")
    if total > MAX_SLICE_BYTES:
        print(f"{args.out}: {total} bytes is over the {MAX_SLICE_BYTES}-byte budget; make the "
              "clips fewer or shorter (SLICE_* in make_slice.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
