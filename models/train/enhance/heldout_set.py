#!/usr/bin/env python3
"""The enhancer's held-out clip set (evaluate.py's module docstring says what it holds and why):
clips built deterministically from the eval shard, mixed at the asked SNR and level, and the WAV
reading and writing the engine's command line needs. numpy and scipy only at import; torch
(noise.py) inside build_clips."""
import os
import sys
import warnings
import zlib
from dataclasses import dataclass
from math import gcd
from typing import Dict, List, Sequence, Tuple

import numpy as np
import scipy.io.wavfile
import scipy.signal

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

DEFAULT_EVAL_SHARD = "build/speech/eval_000.ssc"
DEFAULT_SEED = 1
SPEECH_RATE = 16000                 # every eval-shard utterance (flite awb/rms) is 16 kHz
RATES = (16000, 48000)
# Fixed here rather than taken from noise.py's lists, so the test set does not move when the
# training mix changes. Held-out types first, so even a short prefix (the CI slice) has them.
EVAL_NOISE_TYPES = ("tones", "clicks", "pink", "babble", "hum", "fan", "white", "brown")
HELDOUT_NOISE_TYPES = ("tones", "clicks")   # never in training (noise.py HELDOUT_NOISE_TYPES)
SNR_GRID_DB = (-5, 0, 5, 10, 15)
CLIP_SECONDS = 4.0
# Utterances carry 0.1 s of trimmed silence at each end; 0.1 s more makes a 0.3 s pause between
# sentences, a natural gap that also lets the noise show alone, as it does between phrases.
SENTENCE_GAP_SECONDS = 0.1
MIXTURE_RMS_DBFS = -25.0            # a typical speech level, far from int16 clipping and floor
PEAK_LIMIT = 0.99                   # loud clicks at -5 dB may need less gain than the RMS asks
# Utterances set apart as babble talkers (3 to 8 per babble clip); the other 268 are targets.
# A 4 s clip takes about two sentences, so 80 + 40 clips use about 235 without reusing one.
BABBLE_POOL_UTTERANCES = 32


# --- The held-out clip set --------------------------------------------------------------------


@dataclass
class Clip:
    """One test mixture; clean and noisy are float32 at sample_rate, noisy = clean + noise."""
    name: str
    sample_rate: int
    noise: str
    snr_db: float
    speaker: str
    sentence_ids: Tuple[str, ...]
    clean: np.ndarray
    noisy: np.ndarray

    @property
    def held_out_noise(self) -> bool:
        return self.noise in HELDOUT_NOISE_TYPES


def eval_speaker(utterance: Dict, index: int) -> str:
    """The held-out speaker ("awb" or "rms") of an eval-shard utterance; refuses anything else,
    so a training voice can never leak into the test set, whatever shard is passed."""
    from speech.voices import EVAL_ONLY_VOICES
    engine, voice = (str(utterance.get("voice", "")).split(":") + ["", ""])[:2]
    if (engine, voice) not in EVAL_ONLY_VOICES or utterance.get("split") != "eval":
        raise ValueError(
            f"utterance {index} ({utterance.get('voice')!r}, split {utterance.get('split')!r}) is "
            f"not a held-out eval voice; only {sorted(EVAL_ONLY_VOICES)} may be scored. Pass "
            "the eval shard rendered as models/train/speech/README.md says.")
    if int(utterance["sample_rate"]) != SPEECH_RATE:
        raise ValueError(f"utterance {index} is at {utterance['sample_rate']} Hz; the held-out "
                         f"set is built from {SPEECH_RATE} Hz speech. Re-render the eval shard "
                         "as models/train/speech/README.md says.")
    return voice


def split_pools(utterances: Sequence[Dict], seed: int,
                babble_utterances: int = BABBLE_POOL_UTTERANCES
                ) -> Tuple[Dict[str, List[Dict]], List[Dict]]:
    """({speaker: target utterances}, babble utterances): a seeded shuffle of the shard, its
    first `babble_utterances` set apart as babble talkers and never used as targets."""
    speakers = [eval_speaker(u, i) for i, u in enumerate(utterances)]
    if len(utterances) <= babble_utterances:
        raise ValueError(f"the eval shard has {len(utterances)} utterances; need more than the "
                         f"{babble_utterances} set apart for babble")
    order = np.random.default_rng(seed).permutation(len(utterances))
    babble = [utterances[i] for i in order[:babble_utterances]]
    targets: Dict[str, List[Dict]] = {name: [] for name in sorted(set(speakers))}
    for i in order[babble_utterances:]:
        targets[speakers[i]].append(utterances[i])
    return targets, babble


class SentenceCursor:
    """Walks a speaker's queue from the front (16 kHz clips) or the back (48 kHz clips), so
    asking for more clips of one rate never changes the clips of the other (until the two
    walks meet; then sentences are reused, which the report counts)."""

    def __init__(self, from_back: bool):
        self.from_back = from_back
        self.taken = 0

    def next_index(self, length: int) -> int:
        step = self.taken % length
        self.taken += 1
        return length - 1 - step if self.from_back else step


def join_sentences(queue: Sequence[Dict], take: SentenceCursor, clip_samples: int
                   ) -> Tuple[np.ndarray, Tuple[str, ...]]:
    """One speaker's next sentences, each followed by a short pause, until clip_samples are
    filled; the last one is cut. 16 kHz float64."""
    gap = np.zeros(int(round(SENTENCE_GAP_SECONDS * SPEECH_RATE)))
    pieces, ids, filled = [], [], 0
    while filled < clip_samples:
        utterance = queue[take.next_index(len(queue))]
        pieces += [np.asarray(utterance["audio"], dtype=np.float64), gap]
        ids.append(str(utterance["sentence_id"]))
        filled += pieces[-2].shape[0] + gap.shape[0]
    return np.concatenate(pieces)[:clip_samples], tuple(ids)


def level_and_mix(clean: np.ndarray, noise: np.ndarray, snr_db: float
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) float32: noise scaled to snr_db against the clean speech over the whole
    clip (noise.mix_at_snr), then both scaled alike to MIXTURE_RMS_DBFS, peak <= PEAK_LIMIT."""
    import torch
    from enhance.noise import mix_at_snr
    noisy, _ = mix_at_snr(torch.from_numpy(clean), torch.from_numpy(noise), float(snr_db))
    noisy = noisy.numpy()
    gain = 10.0 ** (MIXTURE_RMS_DBFS / 20.0) / np.sqrt(np.mean(noisy ** 2))
    gain = min(gain, PEAK_LIMIT / np.max(np.abs(noisy)))
    return (clean * gain).astype(np.float32), (noisy * gain).astype(np.float32)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling; the length scales exactly when it is a whole number of samples."""
    if rate_in == rate_out:
        return audio
    common = gcd(rate_in, rate_out)
    return scipy.signal.resample_poly(audio, rate_out // common, rate_in // common)


def clip_generator_seed(seed: int, rate: int, index: int) -> int:
    """Each clip draws its noise from its own generator, so clip i is the same whatever the
    clip counts (CRC-32: stable across runs, unlike Python's salted str hash)."""
    return zlib.crc32(f"{seed}:{rate}:{index}".encode())


def build_clips(utterances: Sequence[Dict], clips16: int, clips48: int, seed: int = DEFAULT_SEED,
                seconds16: float = CLIP_SECONDS, seconds48: float = CLIP_SECONDS,
                babble_utterances: int = BABBLE_POOL_UTTERANCES) -> List[Clip]:
    """The held-out set: clips16 clips at 16 kHz, then clips48 at 48 kHz (see the module
    docstring). Deterministic; clip i of a rate does not depend on how many clips are asked."""
    import torch
    from enhance import noise
    if set(HELDOUT_NOISE_TYPES) != set(noise.HELDOUT_NOISE_TYPES):
        raise RuntimeError(f"noise.py holds out {noise.HELDOUT_NOISE_TYPES}, evaluate.py marks "
                           f"{HELDOUT_NOISE_TYPES} as held out; make evaluate.py's list match")
    targets, babble = split_pools(utterances, seed, babble_utterances)
    speakers = sorted(targets)
    clips: List[Clip] = []
    for rate_number, (rate, count, seconds) in enumerate(
            zip(RATES, (clips16, clips48), (seconds16, seconds48))):
        if count <= 0:
            continue
        babble_speech = [torch.from_numpy(resample(np.asarray(u["audio"], np.float64),
                                                   SPEECH_RATE, rate).astype(np.float32))
                         for u in babble]
        cursors = {name: SentenceCursor(from_back=rate_number == 1) for name in speakers}
        speech_samples = int(round(seconds * SPEECH_RATE))
        for index in range(count):
            noise_kind = EVAL_NOISE_TYPES[index % len(EVAL_NOISE_TYPES)]
            snr_db = SNR_GRID_DB[index % len(SNR_GRID_DB)]
            # Speakers alternate per block of 8 clips, not per clip: per clip, parity would tie
            # every other noise type to one speaker. The 48 kHz clips start with the other
            # speaker, so an odd number of blocks does not draw one speaker's pool dry.
            block = index // len(EVAL_NOISE_TYPES) + rate_number
            speaker = speakers[block % len(speakers)]
            speech16, sentence_ids = join_sentences(targets[speaker], cursors[speaker],
                                                    speech_samples)
            clean = resample(speech16, SPEECH_RATE, rate)
            generator = torch.Generator().manual_seed(clip_generator_seed(seed, rate, index))
            noise_samples = noise.make_noise(noise_kind, clean.shape[0], rate, generator,
                                             speech=babble_speech).numpy().astype(np.float64)
            clean32, noisy32 = level_and_mix(clean, noise_samples, snr_db)
            clips.append(Clip(name=f"{rate // 1000}k_{index:03d}_{noise_kind}_{snr_db:+d}dB",
                              sample_rate=rate, noise=noise_kind, snr_db=float(snr_db),
                              speaker=speaker, sentence_ids=sentence_ids, clean=clean32,
                              noisy=noisy32))
    return clips


def load_eval_utterances(path: str) -> List[Dict]:
    from speech.shard import read_shard
    if not os.path.exists(path):
        raise SystemExit(f"{path}: eval shard not found. Render it as models/train/speech/"
                         "README.md says (render.py --split eval --count 300 --seed 1001).")
    return read_shard(path)


# --- WAV files ---------------------------------------------------------------------------------


def write_wav(path: str, audio: np.ndarray, sample_rate: int, pcm16: bool = False) -> None:
    """Mono WAV: float32 (exact) by default, 16-bit PCM with pcm16 (half the bytes)."""
    audio = np.asarray(audio, dtype=np.float32)
    if pcm16:
        audio = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    scipy.io.wavfile.write(path, sample_rate, audio)


def read_wav(path: str) -> Tuple[int, np.ndarray]:
    """(sample_rate, mono float64 in [-1, 1]) of a 16/32-bit PCM or float WAV."""
    try:
        with warnings.catch_warnings():
            # libsndfile adds a PEAK chunk to float WAVs; scipy warns about it and skips it.
            warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)
            rate, data = scipy.io.wavfile.read(path)
    except (OSError, ValueError) as error:
        raise RuntimeError(f"{path}: cannot read as WAV ({error})") from None
    if data.ndim != 1:
        raise RuntimeError(f"{path}: {data.shape[1]} channels; expected mono")
    if data.dtype == np.int16:
        return rate, data / 32768.0
    if data.dtype == np.int32:
        return rate, data / 2147483648.0
    if data.dtype in (np.float32, np.float64):
        return rate, data.astype(np.float64)
    raise RuntimeError(f"{path}: sample type {data.dtype} is not 16/32-bit PCM or float")


def sentence_reuse(clips: Sequence[Clip]) -> int:
    """How many target sentences appear in more than one clip (0 unless the pools ran out)."""
    seen: Dict[str, int] = {}
    for clip in clips:
        for sentence in clip.sentence_ids:
            seen[sentence] = seen.get(sentence, 0) + 1
    return sum(1 for count in seen.values() if count > 1)
