#!/usr/bin/env python3
"""The recogniser's classical baseline: CMU pocketsphinx with its US English acoustic model.

    /usr/bin/python3 -m models.train.asr.pocketsphinx_baseline FILE.wav [FILE.wav ...]
    /usr/bin/python3 -m models.train.asr.pocketsphinx_baseline --lm WORDS.arpa FILE.wav ...

prints one JSON line per file: {"file", "text" (normalised, text.normalise), "raw" (what
pocketsphinx said), "seconds" (decoding time)}.

Two configurations, both with the en-us acoustic model of Debian's pocketsphinx-en-us
(continuous HMMs, 16 kHz):
  default: its general US English trigram LM (en-us.lm.bin) and the full CMU dictionary
           (cmudict-en-us.dict); every setting is pocketsphinx's own default.
  --lm:    an ARPA LM (ours, from ngram_lm.py) with a dictionary made for it: every LM word
           with all its pronunciations from cmudict-en-us.dict. pocketsphinx can only emit a
           word that has a pronunciation, so words the CMU dictionary lacks get one from
           EXTRA_PRONUNCIATIONS (written from the dictionary's entries for related words).
           A word still without one is listed on stderr; pocketsphinx skips such LM words
           (the word can then never be recognised and costs an error wherever it is spoken),
           and --strict turns that into an error instead.
Audio: mono; other rates than 16 kHz are resampled (resample_poly) before decoding.
Runs through the Python bindings of Debian's python3-pocketsphinx (pocketsphinx 5prealpha).
"""
import argparse
import json
import os
import sys
import tempfile
import time
from math import gcd
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import text as asr_text  # noqa: E402

SAMPLE_RATE = 16000          # the en-us acoustic model's rate (feat.params: -upperf 6800)
MODEL_DIR = "/usr/share/pocketsphinx/model/en-us"
ACOUSTIC_MODEL = os.path.join(MODEL_DIR, "en-us")
DEFAULT_LM = os.path.join(MODEL_DIR, "en-us.lm.bin")
CMU_DICTIONARY = os.path.join(MODEL_DIR, "cmudict-en-us.dict")
LM_MARKERS = frozenset({"<s>", "</s>", "<unk>"})

# Words of our sentences that cmudict-en-us.dict lacks. Each pronunciation is in the
# dictionary's phone set (no stress marks, like the rest of the file), either copied from a
# same-sounding entry or assembled from the entries named in the comment.
EXTRA_PRONUNCIATIONS: Dict[str, Tuple[str, ...]] = {
    "yoghurt": ("Y OW G ER T",),                    # = yogurt
    "litre": ("L IY T ER",),                        # = liter
    "litres": ("L IY T ER Z",),                     # = liters
    "kilohertz": ("K IH L AH HH ER T S",),          # kilogram's "K IH L AH" + hertz(2)
    "mends": ("M EH N D Z",),                       # mend + Z
    "priya": ("P R IY Y AH",),                      # "pree-yah"
}


def _require_pocketsphinx():
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        raise SystemExit("pocketsphinx's Python bindings are missing: install the Debian "
                         "packages python3-pocketsphinx and pocketsphinx-en-us (scripts/setup.sh "
                         "lists them)") from None
    if not os.path.isdir(ACOUSTIC_MODEL):
        raise SystemExit(f"{ACOUSTIC_MODEL}: the en-us acoustic model is missing; install the "
                         "Debian package pocketsphinx-en-us")
    return pocketsphinx


def read_cmu_dictionary(path: str = CMU_DICTIONARY) -> Dict[str, List[str]]:
    """{word: [pronunciation, ...]} of a pocketsphinx dictionary ("word(2)" = 2nd variant)."""
    entries: Dict[str, List[str]] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) < 2:
                continue
            word = parts[0].split("(")[0]
            entries.setdefault(word, []).append(" ".join(parts[1:]))
    return entries


def arpa_words(path: str) -> List[str]:
    """The unigrams of an ARPA file, without <s>, </s> and <unk>."""
    words, in_unigrams = [], False
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line == "\\1-grams:":
                in_unigrams = True
                continue
            if in_unigrams:
                if line.startswith("\\"):
                    break
                parts = line.split()
                if len(parts) >= 2 and parts[1] not in LM_MARKERS:
                    words.append(parts[1])
    if not words:
        raise ValueError(f"{path}: no unigrams found; is it an ARPA file?")
    return words


def write_dictionary(words: Iterable[str], path: str,
                     cmu: Optional[Dict[str, List[str]]] = None) -> List[str]:
    """Writes a pocketsphinx dictionary for `words` to path; returns the words left out
    because neither the CMU dictionary nor EXTRA_PRONUNCIATIONS has them."""
    cmu = cmu if cmu is not None else read_cmu_dictionary()
    missing: List[str] = []
    with open(path, "w", encoding="utf-8") as handle:
        for word in sorted(set(words)):
            pronunciations = cmu.get(word) or list(EXTRA_PRONUNCIATIONS.get(word, ()))
            if not pronunciations:
                missing.append(word)
                continue
            for number, phones in enumerate(pronunciations, 1):
                name = word if number == 1 else f"{word}({number})"
                handle.write(f"{name} {phones}\n")
    return missing


class PocketsphinxRecogniser:
    """One pocketsphinx decoder, loaded once, reused for every utterance (one at a time).

    lm_path None: the default en-us LM and dictionary. Otherwise an ARPA LM and a dictionary
    written for its words into work_dir (a temporary folder when not given)."""

    def __init__(self, lm_path: Optional[str] = None, work_dir: Optional[str] = None,
                 strict: bool = False):
        pocketsphinx = _require_pocketsphinx()
        self.name = "pocketsphinx (en-us LM)" if lm_path is None else \
            f"pocketsphinx ({os.path.basename(lm_path)})"
        self.missing_words: List[str] = []
        self._temporary = None
        config = pocketsphinx.Decoder.default_config()
        config.set_string("-hmm", ACOUSTIC_MODEL)
        config.set_string("-logfn", os.devnull)
        if lm_path is None:
            config.set_string("-lm", DEFAULT_LM)
            config.set_string("-dict", CMU_DICTIONARY)
        else:
            if not os.path.isfile(lm_path):
                raise SystemExit(f"{lm_path}: no ARPA LM there; make one with "
                                 "models/train/asr/ngram_lm.py (models/train/asr/README.md)")
            if work_dir is None:
                self._temporary = tempfile.TemporaryDirectory(prefix="pocketsphinx_")
                work_dir = self._temporary.name
            dictionary = os.path.join(work_dir, os.path.basename(lm_path) + ".dict")
            self.missing_words = write_dictionary(arpa_words(lm_path), dictionary)
            if self.missing_words:
                message = (f"{lm_path}: {len(self.missing_words)} LM words have no "
                           f"pronunciation and cannot be recognised: "
                           f"{' '.join(self.missing_words[:20])}. Add them to "
                           "EXTRA_PRONUNCIATIONS in pocketsphinx_baseline.py")
                if strict:
                    raise SystemExit(message)
                print(f"warning: {message}", file=sys.stderr)
            config.set_string("-lm", lm_path)
            config.set_string("-dict", dictionary)
        self.decoder = pocketsphinx.Decoder(config)

    def transcribe_raw(self, audio: np.ndarray, sample_rate: int) -> str:
        """pocketsphinx's best hypothesis for one utterance (mono float in [-1, 1] or int16)."""
        pcm = to_pcm16(audio, sample_rate)
        self.decoder.start_utt()
        self.decoder.process_raw(pcm.tobytes(), False, True)   # no_search off, full utterance
        self.decoder.end_utt()
        hypothesis = self.decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""

    def __call__(self, audio: np.ndarray, sample_rate: int) -> str:
        """Normalised transcript of one utterance (see clean_hypothesis)."""
        return clean_hypothesis(self.transcribe_raw(audio, sample_rate))


def clean_hypothesis(raw: str) -> str:
    """pocketsphinx's words without fillers (<sil>, [NOISE], +BREATH+), then text.normalise."""
    words = [w for w in raw.split() if not w.startswith(("<", "[", "+"))]
    return asr_text.normalise(" ".join(words))


def to_pcm16(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Little-endian int16 mono at SAMPLE_RATE; float input is clipped to [-1, 1]."""
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (1-D), got shape {audio.shape}")
    if audio.dtype == np.int16 and sample_rate == SAMPLE_RATE:
        return audio.astype("<i2")
    samples = audio.astype(np.float64) / (32768.0 if audio.dtype == np.int16 else 1.0)
    if sample_rate != SAMPLE_RATE:
        import scipy.signal
        common = gcd(int(sample_rate), SAMPLE_RATE)
        samples = scipy.signal.resample_poly(samples, SAMPLE_RATE // common,
                                             int(sample_rate) // common)
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")


def read_wav_mono(path: str) -> Tuple[np.ndarray, int]:
    """(float64 mono samples, rate) of a PCM or float WAV; several channels are averaged."""
    import scipy.io.wavfile
    try:
        rate, data = scipy.io.wavfile.read(path)
    except (OSError, ValueError) as error:
        raise SystemExit(f"{path}: cannot read as WAV ({error})") from None
    scale = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}.get(data.dtype, 1.0)
    data = data.astype(np.float64) / scale
    return (data.mean(axis=1) if data.ndim == 2 else data), int(rate)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="WAV files (mono or averaged to mono)")
    parser.add_argument("--lm", help="ARPA LM to use instead of the default en-us LM")
    parser.add_argument("--strict", action="store_true",
                        help="fail when an LM word has no pronunciation")
    args = parser.parse_args(argv)
    recogniser = PocketsphinxRecogniser(args.lm, strict=args.strict)
    for path in args.files:
        audio, rate = read_wav_mono(path)
        started = time.perf_counter()
        raw = recogniser.transcribe_raw(audio, rate)
        seconds = time.perf_counter() - started
        print(json.dumps({"file": path, "text": clean_hypothesis(raw), "raw": raw,
                          "seconds": round(seconds, 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
