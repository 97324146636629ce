#!/usr/bin/env python3
"""Writes the before/after example in data/audio/: one held-out clip of the quality script's
48 kHz set (flite awb or rms, a held-out sentence, babble of other held-out talkers at 5 dB;
none of it was ever used in training) as 16-bit WAV, then runs the engine's own
`statestream enhance` on it to write the enhanced FLAC beside it.

    /usr/bin/python3 -m models.train.enhance.make_example [--statestream build/release/statestream]
"""
import argparse
import os
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
sys.path.insert(0, os.path.dirname(_HERE))

from enhance import evaluate  # noqa: E402

NOISE = "babble"
SNR_DB = 5
RATE = 48000
NOISY = os.path.join(_ROOT, "data", "audio", "noisy_speech_48k.wav")
ENHANCED = os.path.join(_ROOT, "data", "audio", "noisy_speech_48k.enhanced.flac")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statestream", default=os.path.join(_ROOT, "build", "release", "statestream"))
    parser.add_argument("--eval-shard", default=os.path.join(_ROOT, "build", "speech", "eval_000.ssc"))
    args = parser.parse_args()
    clips = evaluate.build_clips(evaluate.load_eval_utterances(args.eval_shard), 0,
                                 len(evaluate.EVAL_NOISE_TYPES) * len(evaluate.SNR_GRID_DB))
    clip = next(c for c in clips if c.noise == NOISE and c.snr_db == SNR_DB and c.sample_rate == RATE)
    os.makedirs(os.path.dirname(NOISY), exist_ok=True)
    evaluate.write_wav(NOISY, clip.noisy, RATE, pcm16=True)
    subprocess.run([args.statestream, "enhance", NOISY, ENHANCED], check=True)
    print(f"{clip.name}: speaker {clip.speaker}, {NOISE} at {SNR_DB} dB -> {NOISY}, {ENHANCED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
