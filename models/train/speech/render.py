"""Render synthetic speech utterances with the allowed speech engines into one shard.

    python3 -m models.train.speech.render --split train --count 500 --seed 1 \\
        --out build/speech/train_001.ssc

Each utterance pairs a sentence of the split (sentences.py) with a voice of the same split
(voices.py), so evaluation sentences and evaluation voices never reach a training shard.
Audio stays at the engine's native sample rate (espeak-ng 22050 Hz, flite kal 8000 Hz, other
flite voices and festival 16000 Hz); silence beyond about 100 ms at either end is trimmed.
Needs espeak-ng, flite and festival (text2wave) on PATH; reading shards needs none of them.
"""
import argparse
import collections
import glob
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
import wave
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import sentences as sentence_source
from . import voices as voice_catalogue
from .shard import read_shard_header, write_shard

KEEP_SILENCE_SECONDS = 0.1
SILENCE_BELOW_DB = -50.0        # frame RMS relative to the loudest frame
ENGINE_TIMEOUT_SECONDS = 60
MIN_SECONDS_PER_WORD = 0.08     # faster than this, the engine most likely skipped words
MAX_SECONDS_PER_WORD = 2.0      # slower than this, something went wrong
KAL_DIPHONE_F0 = (105, 14)      # festival kal_diphone's own target mean and deviation
# espeak-ng's default amplitude (100) clips about one utterance in eight at the 16-bit limit;
# at 50 it leaves headroom. The level itself does not matter: shards are peak-normalised.
ESPEAK_AMPLITUDE = 50
# A sample this close to full scale counts as clipped; festival clamps at 32766, not 32767.
CLIP_LEVEL = 32766 / 32768


def engine_command(settings: voice_catalogue.VoiceSettings, text_path: str,
                   wav_path: str) -> List[str]:
    """Command line that makes the engine read text_path aloud into wav_path."""
    voice_catalogue.check_policy(settings.engine, settings.voice, settings.split,
                                 settings.voice_set)
    if settings.engine == "espeak-ng":
        name = settings.voice + (f"+{settings.variant}" if settings.variant else "")
        command = ["espeak-ng", "-v", name, "-a", str(ESPEAK_AMPLITUDE)]
        if settings.rate_wpm is not None:
            command += ["-s", str(settings.rate_wpm)]
        if settings.pitch is not None:
            command += ["-p", str(settings.pitch)]
        return command + ["-w", wav_path, "-f", text_path]
    if settings.engine == "flite":
        command = ["flite", "-voice", settings.voice]
        if settings.stretch is not None:
            command += ["--setf", f"duration_stretch={settings.stretch:.2f}"]
        if settings.f0_mean is not None:
            command += ["--setf", f"int_f0_target_mean={settings.f0_mean}"]
        return command + ["-f", text_path, "-o", wav_path]
    if settings.engine == "festival":
        command = ["text2wave", "-eval", f"(voice_{settings.voice})"]
        if settings.stretch is not None:
            command += ["-eval", f"(Parameter.set 'Duration_Stretch {settings.stretch:.2f})"]
        if settings.f0_mean is not None:
            base_mean, base_std = KAL_DIPHONE_F0
            std = base_std * settings.f0_mean / base_mean
            command += ["-eval", f"(set! int_lr_params '((target_f0_mean {settings.f0_mean}) "
                                 f"(target_f0_std {std:.1f}) (model_f0_mean 170) "
                                 f"(model_f0_std 34)))"]
        return command + [text_path, "-o", wav_path]
    raise ValueError(f"unknown engine {settings.engine!r}")


def read_wav(path: str) -> Tuple[np.ndarray, int]:
    """Mono 16-bit PCM WAV as float64 in [-1, 1) and its sample rate."""
    with wave.open(path, "rb") as handle:
        if handle.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit samples, got "
                             f"{8 * handle.getsampwidth()}-bit")
        channels = handle.getnchannels()
        rate = handle.getframerate()
        frames = handle.readframes(handle.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def trim_silence(audio: np.ndarray, sample_rate: int,
                 keep_seconds: float = KEEP_SILENCE_SECONDS,
                 below_db: float = SILENCE_BELOW_DB) -> np.ndarray:
    """Audio without leading/trailing silence beyond keep_seconds.

    Silence is a 10 ms frame whose RMS is below_db under the loudest frame; engines pad
    their output with up to a second of it, which would only cost bytes and training time.
    """
    frame = max(1, sample_rate // 100)
    frame_count = len(audio) // frame
    if frame_count == 0:
        return audio
    frames = audio[:frame_count * frame].reshape(frame_count, frame)
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    loudest = float(rms.max())
    if loudest == 0.0:
        return audio[:0]
    active = np.nonzero(rms > loudest * 10.0 ** (below_db / 20.0))[0]
    keep = int(round(keep_seconds * sample_rate))
    start = max(0, active[0] * frame - keep)
    end = min(len(audio), (active[-1] + 1) * frame + keep)
    return audio[start:end]


def synthesise(settings: voice_catalogue.VoiceSettings, display_text: str,
               workdir: str) -> Tuple[np.ndarray, int, int]:
    """Speak display_text with settings.

    Returns the trimmed float audio, its sample rate and how many samples the engine clipped
    at the 16-bit limit (kept in the shard so training can skip damaged utterances).
    """
    text_path = os.path.join(workdir, "utterance.txt")
    wav_path = os.path.join(workdir, "utterance.wav")
    with open(text_path, "w", encoding="utf-8") as handle:
        handle.write(display_text + "\n")
    if os.path.exists(wav_path):
        os.remove(wav_path)
    command = engine_command(settings, text_path, wav_path)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=ENGINE_TIMEOUT_SECONDS)
    if result.returncode != 0 or not os.path.exists(wav_path):
        message = result.stderr.decode("utf-8", "replace").strip()[:200]
        raise RuntimeError(f"{command[0]} failed (exit {result.returncode}): {message}")
    audio, rate = read_wav(wav_path)
    clipped = int(np.count_nonzero(np.abs(audio) >= CLIP_LEVEL))
    return trim_silence(audio, rate), rate, clipped


def _derived_rng(*parts) -> random.Random:
    """Independent, reproducible random stream for (parts); unaffected by hash seeds."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def _engine_versions() -> Dict[str, str]:
    """Each engine's version line, recorded in the shard for provenance."""
    versions = {}
    for name, command in (("espeak-ng", ["espeak-ng", "--version"]),
                          ("flite", ["flite", "--version"]),
                          ("festival", ["festival", "--version"])):
        try:
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    timeout=20)
            lines = [line.strip() for line in
                     result.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
            # The line naming a version; espeak-ng's also names its data folder, dropped.
            line = next((candidate for candidate in lines if "version" in candidate.lower()
                         or ": 1." in candidate or ": 2." in candidate),
                        lines[0] if lines else "")
            versions[name] = line.split("  Data at:")[0].strip()
        except (OSError, subprocess.TimeoutExpired):
            versions[name] = "unavailable"
    return versions


def _ids_in_shards(patterns: List[str], skip_path: str) -> set:
    """Sentence ids already used by the shards matching patterns (except skip_path)."""
    ids = set()
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            if os.path.abspath(path) == os.path.abspath(skip_path):
                continue
            header = read_shard_header(path)
            ids.update(u["sentence_id"] for u in header["utterances"])
    return ids


def render(split: str, count: int, seed: int, out_path: str,
           avoid_ids: Optional[set] = None, verbose: bool = True,
           voice_set: str = "enhance") -> Dict:
    """Render `count` utterances of `split` of a voice set into out_path; returns a summary."""
    # The enhancer's shards were drawn before voice sets existed; their stream stays the same.
    voice_rng = (_derived_rng("voices-v1", split, seed) if voice_set == "enhance"
                 else _derived_rng("voices-v1", voice_set, split, seed))
    sentence_stream = iter(sentence_source.SentenceGenerator(seed))
    used_ids = set(avoid_ids or ())
    utterances = []
    failures: List[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="speech-render-") as workdir:
        while len(utterances) < count:
            sentence = next(sentence_stream)
            if sentence.split != split or sentence.sentence_id in used_ids:
                continue
            used_ids.add(sentence.sentence_id)
            settings = voice_catalogue.sample_voice(split, voice_rng, voice_set)
            try:
                audio, rate, clipped = synthesise(settings, sentence.display, workdir)
            except (RuntimeError, ValueError, subprocess.TimeoutExpired, wave.Error) as error:
                failures.append(f"{settings.spec()} {sentence.text!r}: {error}")
                if len(failures) > max(20, count // 10):
                    raise RuntimeError("too many engine failures:\n" + "\n".join(failures))
                continue
            seconds = len(audio) / rate
            words = len(sentence.text.split())
            if not (MIN_SECONDS_PER_WORD * words <= seconds <= MAX_SECONDS_PER_WORD * words):
                failures.append(f"{settings.spec()} {sentence.text!r}: implausible "
                                f"duration {seconds:.2f} s for {words} words")
                continue
            utterances.append({
                "audio": audio, "sample_rate": rate, "text": sentence.text,
                "display": sentence.display, "voice": settings.spec(),
                "engine": settings.engine, "split": split,
                "sentence_id": sentence.sentence_id, "template": sentence.template,
                "clipped_samples": clipped,
            })
            if verbose and len(utterances) % 50 == 0:
                elapsed = time.monotonic() - started
                print(f"  {len(utterances)}/{count} utterances, {elapsed:.0f} s",
                      file=sys.stderr, flush=True)
    render_seconds = time.monotonic() - started

    per_engine = collections.Counter(u["engine"] for u in utterances)
    per_voice = collections.Counter(u["voice"].split(":")[1].split("+")[0]
                                    if u["engine"] != "espeak-ng" else "espeak-ng"
                                    for u in utterances)
    seconds_per_engine = collections.defaultdict(float)
    for u in utterances:
        seconds_per_engine[u["engine"]] += len(u["audio"]) / u["sample_rate"]
    speech_seconds = sum(seconds_per_engine.values())
    info = {
        "split": split, "voice_set": voice_set, "seed": seed, "count": len(utterances),
        "render_seconds": round(render_seconds, 1),
        "speech_seconds": round(speech_seconds, 1),
        "per_engine": dict(per_engine), "per_voice": dict(per_voice),
        "failures": len(failures),
        "clipped_utterances": sum(1 for u in utterances if u["clipped_samples"]),
        "engine_versions": _engine_versions(),
        "generator": "sentences-v1/voices-v1",
    }
    pack_started = time.monotonic()
    write_shard(out_path, utterances, info=info)
    pack_seconds = time.monotonic() - pack_started
    size = os.path.getsize(out_path)
    summary = dict(info, out=out_path, bytes=size, pack_seconds=round(pack_seconds, 1),
                   bytes_per_speech_second=round(size / max(speech_seconds, 1e-9), 1),
                   utterances_per_minute=round(60 * len(utterances) / render_seconds, 1),
                   seconds_per_engine={k: round(v, 1) for k, v in seconds_per_engine.items()},
                   failure_examples=failures[:5])
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("train", "eval"), required=True)
    parser.add_argument("--voice-set", choices=voice_catalogue.VOICE_SETS, default="enhance",
                        help="which voices the split holds out (voices.py): the enhancer's or "
                             "the recogniser's")
    parser.add_argument("--count", type=int, required=True, help="utterances in the shard")
    parser.add_argument("--seed", type=int, required=True,
                        help="fixes sentences and voices; use a different one per shard")
    parser.add_argument("--out", required=True, help="shard file to write (.ssc)")
    parser.add_argument("--avoid", nargs="*", default=[], metavar="GLOB",
                        help="shards whose sentences must not be repeated in this one")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.count <= 0:
        parser.error("--count must be positive")

    avoid_ids = _ids_in_shards(args.avoid, args.out)
    summary = render(args.split, args.count, args.seed, args.out, avoid_ids,
                     verbose=not args.quiet, voice_set=args.voice_set)
    print(f"{summary['out']}: {summary['count']} {args.split} utterances, "
          f"{summary['speech_seconds'] / 60:.2f} min of speech, {summary['bytes']} bytes "
          f"({summary['bytes_per_speech_second']:.0f} bytes per second of speech)")
    print(f"  rendered in {summary['render_seconds']:.0f} s "
          f"({summary['utterances_per_minute']:.0f} utterances/min), "
          f"packed in {summary['pack_seconds']:.0f} s, {summary['failures']} rejected, "
          f"{summary['clipped_utterances']} with clipped samples")
    print(f"  per engine: {summary['per_engine']}; seconds: {summary['seconds_per_engine']}")
    print(f"  per voice: {summary['per_voice']}")
    for example in summary["failure_examples"]:
        print(f"  rejected: {example}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
