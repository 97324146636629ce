#!/usr/bin/env python3
"""Speech with known word times, for the recogniser's latency figures (latency_report.py).

    /usr/bin/python3 -m models.train.asr.word_times --count 40 --seed 11 --out build/asr_latency
    /usr/bin/python3 -m models.train.asr.word_times --sample      # the shipped sample (below)

Speaker: flite `rms`, the recogniser's held-out voice (voice set "asr", split "eval" of
speech/voices.py; checked with voices.check_policy), at a duration stretch drawn from that
catalogue entry's range. Text: eval-split sentences of speech/sentences.py, never in training
audio nor in the LM's text. Each utterance is leveled to -25 dBFS RMS (the held-out test's
clean level, evaluate_asr.MIXTURE_RMS_DBFS) and written as 16 kHz 16-bit mono WAV, with a
JSON file beside it (NAME.words.json): the transcript and, per word, its start and end in
seconds from the start of the file.

Where the times come from: flite itself. The `flite` program can print each segment (phone
or pause) with its end time (-psdur), but not which word a segment belongs to, so this script
drives the same synthesis through libflite (ctypes; flite_synth_text, the call behind
`flite -t TEXT`) and reads, for every item of the utterance's Word relation, the end time of
its first segment's predecessor (the word's start) and of its last segment (the word's end):
flite's own durations, the ones the waveform was generated from (clustergen frames of 5 ms).
Every utterance is checked before it is written:
  - the audio is byte-identical to `flite -voice rms [--setf duration_stretch=S] -t TEXT` and
    the segment end times equal that program's -psdur output (so the times belong to exactly
    the audio the flite program makes, not to a different synthesis);
  - words and pauses tile the utterance: each word starts where the previous word or pause
    ended, and the last segment ends within one 5 ms frame of the synthesised audio's end
    (the summed word and pause durations equal the file's length);
  - flite's words spell the transcript's words (flite drops apostrophes, "oclock", and splits
    some contractions, "it" + "s": such pieces make one word), else the sentence is skipped
    and listed;
  - silence at the ends: every 10 ms frame before the first word's start and after the last
    word's end + END_TAIL_SECONDS is SILENT_BELOW_DB under the loudest frame, and the first
    and last frames of speech (the first/last frame above that level) lie within
    ONSET_TOLERANCE_SECONDS of the first word's start and END_TOLERANCE_SECONDS of the last
    word's end (a release or a decaying vowel may ring on a little).

--sample writes data/audio/speech_16k.wav and data/audio/speech_16k.words.json: the first
eval-split sentences of seed SAMPLE_SEED read at one stretch, SAMPLE_GAP_SECONDS of silence
between them, as many as fit in SAMPLE_MAX_SECONDS (a 16-bit WAV of 12 s is 384 kB).
"""
import argparse
import ctypes
import json
import os
import random
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_REPO_ROOT = os.path.dirname(os.path.dirname(_TRAIN_DIR))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from speech import sentences as sentence_source  # noqa: E402
from speech import voices as voice_catalogue  # noqa: E402

ENGINE, VOICE, SPLIT, VOICE_SET = "flite", "rms", "eval", "asr"
SAMPLE_RATE = 16000                 # flite rms synthesises at 16 kHz
FLITE_FRAME_SECONDS = 0.005         # clustergen frame shift: the resolution of flite's times
LEVEL_RMS_DBFS = -25.0              # evaluate_asr.MIXTURE_RMS_DBFS: the clean test level
PEAK_LIMIT = 0.9
TAIL_SECONDS = 1.0                  # silence after each utterance: the live endpoint (0.8 s)
                                    # can fire inside the file
SILENT_BELOW_DB = -40.0             # a 10 ms frame this far under the loudest one is silence
ONSET_TOLERANCE_SECONDS = 0.08      # a word-initial stop ("put") opens with a silent closure
END_TAIL_SECONDS = 0.15             # a final vowel or release may ring on this long
END_TOLERANCE_SECONDS = 0.15
SAMPLE_SEED = 5
SAMPLE_GAP_SECONDS = 0.4            # plus flite's own pauses (about 0.1 s at each end)
SAMPLE_MAX_SECONDS = 12.0
SAMPLE_TAIL_SECONDS = 0.3
SAMPLE_BASENAME = os.path.join(_REPO_ROOT, "data", "audio", "speech_16k")
GENERATOR = "word_times-v1 (sentences-v1, flite rms)"


@dataclass
class TimedUtterance:
    audio: np.ndarray               # float64, [-1, 1), SAMPLE_RATE
    text: str                       # transcript (sentences.normalise of display)
    display: str
    sentence_id: str
    stretch: float
    words: List[Dict]               # {"word", "start", "end"} in seconds
    pauses: List[Tuple[float, float]]
    checks: Dict[str, float]        # what check_silence measured


class WordTimeError(ValueError):
    """An utterance whose word times failed a check; the message says which."""


# --- libflite ------------------------------------------------------------------------------------

class Flite:
    """flite's synthesis of one text with the rms voice, through libflite (ctypes)."""

    def __init__(self):
        try:
            self.lib = ctypes.CDLL("libflite.so.1", mode=ctypes.RTLD_GLOBAL)
            for dependency in ("libflite_usenglish.so.1", "libflite_cmulex.so.1"):
                ctypes.CDLL(dependency, mode=ctypes.RTLD_GLOBAL)
            voice_lib = ctypes.CDLL("libflite_cmu_us_rms.so.1", mode=ctypes.RTLD_GLOBAL)
        except OSError as error:
            raise SystemExit(f"libflite or its rms voice is missing ({error}); install the "
                             "Debian package flite (scripts/setup.sh)") from None
        signatures = {
            "flite_init": (ctypes.c_int, []),
            "feat_set_float": (None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_float]),
            "feat_remove": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
            "flite_synth_text": (ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_void_p]),
            "utt_relation": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]),
            "relation_head": (ctypes.c_void_p, [ctypes.c_void_p]),
            "item_next": (ctypes.c_void_p, [ctypes.c_void_p]),
            "ffeature_string": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_char_p]),
            "ffeature_float": (ctypes.c_float, [ctypes.c_void_p, ctypes.c_char_p]),
            "utt_wave": (ctypes.c_void_p, [ctypes.c_void_p]),
            "cst_wave_save_riff": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
            "delete_utterance": (None, [ctypes.c_void_p]),
        }
        for name, (result, arguments) in signatures.items():
            function = getattr(self.lib, name)
            function.restype, function.argtypes = result, arguments
        self.lib.flite_init()
        # clustergen's excitation draws from libc's rand(); a fresh `flite` process starts it
        # at glibc's default seed 1, so reseeding before each synthesis gives its exact audio.
        self.libc = ctypes.CDLL(None)
        voice_lib.register_cmu_us_rms.restype = ctypes.c_void_p
        voice_lib.register_cmu_us_rms.argtypes = [ctypes.c_char_p]
        self.voice = voice_lib.register_cmu_us_rms(None)
        if not self.voice:
            raise SystemExit("libflite_cmu_us_rms: register_cmu_us_rms returned no voice")
        # cst_voice is {const char *name; cst_features *features; ...} (flite's cst_voice.h).
        self.features = ctypes.cast(self.voice, ctypes.POINTER(ctypes.c_void_p))[1]

    def _items(self, utterance, relation: bytes):
        item = self.lib.relation_head(self.lib.utt_relation(utterance, relation))
        while item:
            yield item
            item = self.lib.item_next(item)

    def synthesise(self, text: str, stretch: Optional[float], wav_path: str):
        """Writes the waveform to wav_path; returns (words, segments): [(name, start, end)]
        for each word and [(name, end)] for each segment, in seconds."""
        if stretch is None:
            self.lib.feat_remove(self.features, b"duration_stretch")
        else:
            self.lib.feat_set_float(self.features, b"duration_stretch", float(f"{stretch:.2f}"))
        self.libc.srand(1)
        utterance = self.lib.flite_synth_text(text.encode("utf-8"), self.voice)
        if not utterance:
            raise WordTimeError(f"flite could not synthesise {text!r}")
        try:
            f = self.lib.ffeature_float
            words = [(self.lib.ffeature_string(item, b"name").decode("utf-8"),
                      f(item, b"R:SylStructure.daughter1.daughter1.R:Segment.p.end"),
                      f(item, b"R:SylStructure.daughtern.daughtern.R:Segment.end"))
                     for item in self._items(utterance, b"Word")]
            segments = [(self.lib.ffeature_string(item, b"name").decode("utf-8"),
                         f(item, b"end")) for item in self._items(utterance, b"Segment")]
            if self.lib.cst_wave_save_riff(self.lib.utt_wave(utterance),
                                           wav_path.encode("utf-8")) != 0:
                raise WordTimeError(f"{wav_path}: flite could not write the waveform")
        finally:
            self.lib.delete_utterance(utterance)
        return words, segments


def flite_program(text: str, stretch: Optional[float], wav_path: str) -> List[Tuple[str, float]]:
    """The same text through the `flite` program: writes wav_path, returns its -psdur
    segments [(name, end)]."""
    command = ["flite", "-voice", VOICE, "-psdur"]
    if stretch is not None:
        command += ["--setf", f"duration_stretch={stretch:.2f}"]
    result = subprocess.run(command + ["-t", text, "-o", wav_path], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=60, check=False)
    if result.returncode != 0:
        raise WordTimeError(f"flite failed (exit {result.returncode}): "
                            f"{result.stderr.decode('utf-8', 'replace')[:200]}")
    segments = []
    for token in result.stdout.decode("utf-8").split():
        name, _, end = token.rpartition(":")
        segments.append((name, float(end)))
    return segments


# --- checks ---------------------------------------------------------------------------------------

def read_wav16(path: str) -> np.ndarray:
    with wave.open(path, "rb") as handle:
        if (handle.getsampwidth(), handle.getnchannels(), handle.getframerate()) != \
                (2, 1, SAMPLE_RATE):
            raise WordTimeError(f"{path}: expected 16-bit mono {SAMPLE_RATE} Hz from flite")
        frames = handle.readframes(handle.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0


def match_transcript(flite_words: Sequence[Tuple[str, float, float]],
                     transcript: str) -> List[Dict]:
    """The transcript's words with flite's times. flite drops apostrophes ("o'clock" ->
    "oclock") and splits some contractions ("it's" -> "it" + "s"): a transcript word takes as
    many flite words as spell it, from the first one's start to the last one's end.
    WordTimeError when the words cannot be matched that way."""
    timed, at = [], 0
    for word in transcript.split():
        target, spelled, start = word.replace("'", ""), "", None
        while at < len(flite_words) and len(spelled) < len(target):
            name, piece_start, piece_end = flite_words[at]
            spelled += name.lower().replace("'", "")
            start = piece_start if start is None else start
            end = piece_end
            at += 1
        if spelled != target:
            said = " ".join(name for name, _, _ in flite_words)
            raise WordTimeError(f"flite's words {said!r} do not spell the transcript "
                                f"{transcript!r} (at {word!r})")
        timed.append({"word": word, "start": round(start, 4), "end": round(end, 4)})
    if at != len(flite_words):
        raise WordTimeError(f"flite said more words than the transcript {transcript!r} has")
    return timed


def check_tiling(words: Sequence[Tuple[str, float, float]],
                 segments: Sequence[Tuple[str, float]],
                 seconds: float) -> List[Tuple[float, float]]:
    """Checks that words and pauses tile [0, end of the last segment] and that this end is the
    audio's end; returns the pauses as (start, end)."""
    pauses, previous_end = [], 0.0
    for name, end in segments:
        if name == "pau":
            pauses.append((previous_end, end))
        previous_end = end
    spans = sorted([(start, end) for _, start, end in words] + pauses)
    cursor = 0.0
    for start, end in spans:
        if abs(start - cursor) > 1e-4 or end < start:
            raise WordTimeError(f"words and pauses do not tile the utterance: a span starts at "
                                f"{start:.4f} s where the previous ended at {cursor:.4f} s")
        cursor = end
    if abs(cursor - previous_end) > 1e-4:
        raise WordTimeError(f"the spans end at {cursor:.4f} s, the last segment at "
                            f"{previous_end:.4f} s")
    if abs(cursor - seconds) > FLITE_FRAME_SECONDS + 1e-4:
        raise WordTimeError(f"words and pauses add up to {cursor:.4f} s but the audio lasts "
                            f"{seconds:.4f} s")
    return pauses


def frame_levels_db(audio: np.ndarray) -> np.ndarray:
    """Each 10 ms frame's RMS in dB relative to the loudest frame."""
    frame = SAMPLE_RATE // 100
    count = len(audio) // frame
    rms = np.sqrt(np.mean(audio[:count * frame].reshape(count, frame) ** 2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-12) / max(float(rms.max()), 1e-12))


def check_silence(audio: np.ndarray, first_start: float, last_end: float) -> Dict[str, float]:
    """Silence before the first word and after the last (module docstring); returns the
    measured onset and offset differences in seconds."""
    levels = frame_levels_db(audio)
    active = np.nonzero(levels > SILENT_BELOW_DB)[0]
    if active.size == 0:
        raise WordTimeError("the audio is silent")
    onset = active[0] * 0.01                # start of the first loud frame
    offset = (active[-1] + 1) * 0.01        # end of the last loud frame
    lead_frames = int(first_start // 0.01)  # frames wholly before the first word
    if np.any(levels[:lead_frames] > SILENT_BELOW_DB):
        raise WordTimeError(f"sound before the first word's start {first_start:.3f} s")
    tail_from = int(np.ceil((last_end + END_TAIL_SECONDS) / 0.01))
    if np.any(levels[tail_from:] > SILENT_BELOW_DB):
        raise WordTimeError(f"sound more than {END_TAIL_SECONDS} s after the last word's end "
                            f"{last_end:.3f} s")
    if abs(onset - first_start) > ONSET_TOLERANCE_SECONDS + 0.01:
        raise WordTimeError(f"speech starts at {onset:.3f} s, the first word at "
                            f"{first_start:.3f} s")
    if abs(offset - last_end) > END_TOLERANCE_SECONDS + 0.01:
        raise WordTimeError(f"speech ends at {offset:.3f} s, the last word at {last_end:.3f} s")
    return {"onset_minus_start_s": round(onset - first_start, 4),
            "offset_minus_end_s": round(offset - last_end, 4)}


def render_utterance(flite: Flite, sentence, stretch: float, workdir: str) -> TimedUtterance:
    """One sentence with its word times, checked (module docstring)."""
    voice_catalogue.check_policy(ENGINE, VOICE, SPLIT, VOICE_SET)
    library_wav = os.path.join(workdir, "library.wav")
    program_wav = os.path.join(workdir, "program.wav")
    words, segments = flite.synthesise(sentence.display, stretch, library_wav)
    program_segments = flite_program(sentence.display, stretch, program_wav)
    with open(library_wav, "rb") as a, open(program_wav, "rb") as b:
        if a.read() != b.read():
            raise WordTimeError("libflite's audio differs from the flite program's")
    if [n for n, _ in segments] != [n for n, _ in program_segments] or any(
            abs(x - y) > 0.0015 for (_, x), (_, y) in zip(segments, program_segments)):
        raise WordTimeError("libflite's segment times differ from `flite -psdur`")
    audio = read_wav16(library_wav)
    seconds = len(audio) / SAMPLE_RATE
    pauses = check_tiling(words, segments, seconds)
    timed = match_transcript(words, sentence.text)
    checks = check_silence(audio, words[0][1], words[-1][2])
    checks["spans_minus_audio_s"] = round(pauses[-1][1] - seconds, 4)
    return TimedUtterance(audio, sentence.text, sentence.display, sentence.sentence_id,
                          stretch, timed, pauses, checks)


def stretch_range() -> Tuple[float, float]:
    """The duration stretch range of the rms entry of the recogniser's eval voices."""
    for entry in voice_catalogue.entries_for_split(SPLIT, VOICE_SET):
        if (entry.engine, entry.voice) == (ENGINE, VOICE):
            return entry.stretch or (1.0, 1.0)
    raise SystemExit(f"speech/voices.py has no {ENGINE} {VOICE} entry in the {SPLIT} split of "
                     f"voice set {VOICE_SET!r}; this script needs that held-out voice")


# --- output ---------------------------------------------------------------------------------------

def write_wav16(path: str, audio: np.ndarray) -> None:
    samples = np.clip(np.round(audio * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(samples.tobytes())


def level_gain(audio: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(audio ** 2)))
    gain = 10.0 ** (LEVEL_RMS_DBFS / 20.0) / max(rms, 1e-12)
    return min(gain, PEAK_LIMIT / max(float(np.max(np.abs(audio))), 1e-12))


def assemble(utterances: Sequence[TimedUtterance], gap_seconds: float,
             tail_seconds: float) -> Tuple[np.ndarray, List[Dict], List[Dict]]:
    """The utterances one after another with gap_seconds of silence between them and
    tail_seconds after the last; returns the audio and the words and sentences with times
    from its start."""
    pieces, words, spans, at = [], [], [], 0.0
    for index, utterance in enumerate(utterances):
        if index > 0:
            pieces.append(np.zeros(int(round(gap_seconds * SAMPLE_RATE))))
            at += gap_seconds
        pieces.append(utterance.audio)
        for word in utterance.words:
            words.append({"word": word["word"], "start": round(at + word["start"], 4),
                          "end": round(at + word["end"], 4)})
        spans.append({"text": utterance.text, "display": utterance.display,
                      "sentence_id": utterance.sentence_id,
                      "start": round(at + utterance.words[0]["start"], 4),
                      "end": round(at + utterance.words[-1]["end"], 4)})
        at += len(utterance.audio) / SAMPLE_RATE
    pieces.append(np.zeros(int(round(tail_seconds * SAMPLE_RATE))))
    audio = np.concatenate(pieces)
    return audio * level_gain(audio), words, spans


def write_timed(basename: str, utterances: Sequence[TimedUtterance], gap_seconds: float,
                tail_seconds: float, seed: int) -> Dict:
    """NAME.wav and NAME.words.json; returns the JSON written."""
    audio, words, spans = assemble(utterances, gap_seconds, tail_seconds)
    wav_path = basename + ".wav"
    write_wav16(wav_path, audio)
    # The written file holds 16-bit samples: check the silence on what a reader gets back.
    check_silence(read_wav16(wav_path), words[0]["start"], words[-1]["end"])
    stretches = sorted({u.stretch for u in utterances})
    record = {
        "audio": os.path.basename(wav_path),
        "sample_rate": SAMPLE_RATE,
        "duration_s": round(len(audio) / SAMPLE_RATE, 4),
        "voice": f"{ENGINE}:{VOICE}:stretch=" + ",".join(f"{s:.2f}" for s in stretches),
        "voice_set": VOICE_SET, "split": SPLIT, "seed": seed,
        "text": " ".join(u.text for u in utterances),
        "speech_start_s": words[0]["start"],
        "speech_end_s": words[-1]["end"],
        "sentences": spans,
        "checks": [u.checks for u in utterances],
        "words": words,
        "generator": GENERATOR,
        "times": "flite's own segment durations (libflite Word/Segment relations), checked "
                 "against `flite -psdur` and the audio (models/train/asr/word_times.py)",
    }
    with open(basename + ".words.json", "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
        handle.write("\n")
    return record


def render_set(count: int, seed: int, out_dir: str, verbose: bool = True) -> List[Dict]:
    """count word-timed utterances (one sentence each) into out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    flite = Flite()
    low, high = stretch_range()
    rng = random.Random(seed)
    records, skipped = [], []
    generator = iter(sentence_source.SentenceGenerator(seed))
    seen = set()
    with tempfile.TemporaryDirectory(prefix="word-times-") as workdir:
        while len(records) < count:
            sentence = next(generator)
            if sentence.split != SPLIT or sentence.sentence_id in seen:
                continue
            seen.add(sentence.sentence_id)
            stretch = round(rng.uniform(low, high), 2)
            try:
                utterance = render_utterance(flite, sentence, stretch, workdir)
            except WordTimeError as error:
                skipped.append(f"{sentence.display!r}: {error}")
                if len(skipped) > max(10, count // 5):
                    raise SystemExit("too many sentences failed the checks:\n" +
                                     "\n".join(skipped))
                continue
            name = os.path.join(out_dir, f"{len(records):03d}_rms_{sentence.sentence_id}")
            records.append(write_timed(name, [utterance], 0.0, TAIL_SECONDS, seed))
            if verbose and len(records) % 10 == 0:
                print(f"  {len(records)}/{count}", file=sys.stderr, flush=True)
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    print_check_summary(records)
    return records


def print_check_summary(records: Sequence[Dict]) -> None:
    """How far the audio's own onset and offset fall from the first word's start and the last
    word's end, and the words-plus-pauses total against the audio's length."""
    checks = [c for record in records for c in record["checks"]]
    for key, what in (("onset_minus_start_s", "speech onset - first word start"),
                      ("offset_minus_end_s", "speech offset - last word end"),
                      ("spans_minus_audio_s", "words + pauses - audio length")):
        values = np.array([c[key] for c in checks]) * 1e3
        print(f"  {what}: median {np.median(values):+.1f} ms, range "
              f"[{values.min():+.1f}, {values.max():+.1f}] ms over {len(values)} utterances")


def render_sample(basename: str = SAMPLE_BASENAME) -> Dict:
    """The shipped sample (module docstring)."""
    flite = Flite()
    low, high = stretch_range()
    stretch = round(random.Random(SAMPLE_SEED).uniform(low, high), 2)
    chosen: List[TimedUtterance] = []
    total = SAMPLE_TAIL_SECONDS
    with tempfile.TemporaryDirectory(prefix="word-times-") as workdir:
        for sentence in sentence_source.sentences_for_split(SPLIT, SAMPLE_SEED, 40):
            try:
                utterance = render_utterance(flite, sentence, stretch, workdir)
            except WordTimeError as error:
                print(f"skipped {sentence.display!r}: {error}", file=sys.stderr)
                continue
            seconds = len(utterance.audio) / SAMPLE_RATE + (SAMPLE_GAP_SECONDS if chosen else 0)
            if total + seconds > SAMPLE_MAX_SECONDS:
                if len(chosen) >= 3:
                    break
                continue
            chosen.append(utterance)
            total += seconds
    if len(chosen) < 3:
        raise SystemExit("fewer than three sentences fit the sample; raise SAMPLE_MAX_SECONDS")
    os.makedirs(os.path.dirname(basename), exist_ok=True)
    record = write_timed(basename, chosen, SAMPLE_GAP_SECONDS, SAMPLE_TAIL_SECONDS, SAMPLE_SEED)
    print_check_summary([record])
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=40, help="utterances to render")
    parser.add_argument("--seed", type=int, default=11, help="fixes sentences and stretches")
    parser.add_argument("--out", default="build/asr_latency", help="folder for WAV + JSON")
    parser.add_argument("--sample", action="store_true",
                        help="write the shipped sample data/audio/speech_16k.{wav,words.json}")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.sample:
        record = render_sample()
        size = os.path.getsize(SAMPLE_BASENAME + ".wav")
        print(f"{SAMPLE_BASENAME}.wav: {record['duration_s']:.2f} s, {size} bytes, "
              f"{len(record['sentences'])} sentences, {len(record['words'])} words, "
              f"{record['voice']}")
        return 0
    if args.count <= 0:
        parser.error("--count must be positive")
    records = render_set(args.count, args.seed, args.out, verbose=not args.quiet)
    seconds = sum(r["duration_s"] for r in records)
    words = sum(len(r["words"]) for r in records)
    print(f"{args.out}: {len(records)} utterances, {words} words, {seconds:.1f} s of audio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
