#!/usr/bin/env python3
"""The speech enhancer's quality gate: held-out clips, the model against speexdsp, with intervals.

    /usr/bin/python3 -m models.train.enhance.evaluate [--engine cli|torch]
        [--statestream build/release/statestream] [--model data/models/enhancer.safetensors]
        [--clips16 80] [--clips48 40] [--json OUT.json] [--markdown OUT.md] [--gate]

Held-out set (deterministic for a given --seed and shard):
  - speech: build/speech/eval_000.ssc only, that is flite awb and rms (voices never heard in
    training) reading held-out sentences, 16 kHz TTS. A clip is one speaker's sentences joined
    with a short pause, cut to 4 s. A fixed part of the shard is kept apart as babble talkers,
    so no clip's babble contains its own sentence or any target sentence.
  - noise: the held-out types tones and clicks, and the training types pink, babble, hum, fan,
    white and brown (on unseen voices and sentences), crossed with the SNR grid -5..15 dB in
    5 dB steps; clip i gets noise i mod 8 and SNR i mod 5, so every prefix of the set is
    balanced and 40 clips cover every (noise, SNR) pair once.
  - rates: 16 kHz clips, and 48 kHz clips whose speech is the 16 kHz speech resampled
    (resample_poly) with full-band noise added at 48 kHz.
Systems, all at the clip's own rate and aligned with the clean speech: the noisy input;
speexdsp's denoiser at -10, -15 (its default), -25 and -40 dB, delay-compensated; the model,
through the engine's command line (`statestream enhance IN OUT --model M`, whose output is
already time-aligned) or, with --engine torch, through model.py's enhance() at 48 kHz.
Metrics: SI-SDR improvement and STOI (metrics.py) per clip, means with percentile-bootstrap 95 %
intervals per rate, per noise type and per SNR. "Best speexdsp" is the setting with the best
mean, chosen per metric and per rate. The verdict says whether the model's mean beats the best
speexdsp mean on both metrics at every rate; --gate turns a miss into a non-zero exit code.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass
from math import gcd
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import scipy.io.wavfile
import scipy.signal

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

# torch (noise.py, model.py) is imported inside the functions that need it, so check_slice.py,
# which only runs the engine and scores files, works with numpy and scipy alone.
from enhance.metrics import bootstrap_mean_ci, si_sdr, stoi  # noqa: E402
from enhance.speexdsp_baseline import speexdsp_denoise  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(_TRAIN_DIR))
DEFAULT_EVAL_SHARD = "build/speech/eval_000.ssc"
DEFAULT_STATESTREAM = "build/release/statestream"
DEFAULT_MODEL = "data/models/enhancer.safetensors"
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
SPEEX_SUPPRESS_DB = (-10, -15, -25, -40)
GATE_METRICS = ("si_sdri", "stoi")  # both higher-is-better
METRIC_LABELS = {"si_sdr": "SI-SDR (dB)", "si_sdri": "SI-SDRi (dB)", "stoi": "STOI"}


def speex_system(suppress_db: int) -> str:
    return f"speex{suppress_db}"


SPEEX_SYSTEMS = tuple(speex_system(db) for db in SPEEX_SUPPRESS_DB)
SYSTEMS = ("noisy",) + SPEEX_SYSTEMS + ("model",)
SYSTEM_LABELS = {"noisy": "noisy", "model": "model",
                 **{speex_system(db): f"speexdsp {db} dB" for db in SPEEX_SUPPRESS_DB}}


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


# --- The model, two ways ---------------------------------------------------------------------


class CliEnhancer:
    """The engine: `statestream enhance NOISY.wav OUT.wav --model M` per clip, float32 WAVs in
    a temporary folder. The output must match the input's rate and length (already aligned)."""

    def __init__(self, statestream: str, model_path: str, work_dir: str):
        if not os.path.isfile(statestream) or not os.access(statestream, os.X_OK):
            raise SystemExit(f"{statestream}: no statestream binary there. Build it "
                             "(cmake --preset release && cmake --build --preset release), pass "
                             "--statestream PATH, or use --engine torch.")
        self.statestream, self.model_path, self.work_dir = statestream, model_path, work_dir

    def __call__(self, noisy: np.ndarray, sample_rate: int, name: str) -> np.ndarray:
        noisy_path = os.path.join(self.work_dir, f"{name}.noisy.wav")
        out_path = os.path.join(self.work_dir, f"{name}.enhanced.wav")
        write_wav(noisy_path, noisy, sample_rate)
        return run_cli_enhance(self.statestream, self.model_path, noisy_path, out_path,
                               sample_rate, noisy.shape[0])


def run_cli_enhance(statestream: str, model_path: str, noisy_path: str, out_path: str,
                    sample_rate: int, length: int) -> np.ndarray:
    """Runs one `statestream enhance` and returns its output, checked against the input."""
    command = [statestream, "enhance", noisy_path, out_path, "--model", model_path]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` exited with {result.returncode}: "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    rate, audio = read_wav(out_path)
    if rate != sample_rate or audio.shape[0] != length:
        raise RuntimeError(f"{out_path}: {audio.shape[0]} samples at {rate} Hz from "
                           f"`statestream enhance`; the input {noisy_path} has {length} at "
                           f"{sample_rate} Hz, and the output must match it")
    return audio


class TorchEnhancer:
    """model.py's enhance() on the model file's weights (the reference of the engine's chain),
    at 48 kHz. Other rates go through resample_poly both ways. LATENCY samples of silence are
    appended and the first LATENCY output samples dropped, which is what the engine's
    delay compensation does: the result is aligned with the input and as long."""

    def __init__(self, model_path: str):
        import torch
        from enhance import model as chain
        from ssm_model import load_model
        if not os.path.isfile(model_path):
            raise SystemExit(f"{model_path}: no model file there; pass --model PATH or export "
                             "one with models/train/enhance/export_enhancer.py")
        self.torch, self.chain = torch, chain
        self.model, metadata = load_model(model_path, dtype=torch.float32)
        self.model.eval()
        frontend = json.loads(metadata.get("frontend", "{}"))
        if frontend != chain.FRONTEND:
            raise SystemExit(f"{model_path}: front-end {frontend} is not model.py's "
                             f"{chain.FRONTEND}; this model does not run through model.py's "
                             "enhance(); use --engine cli")

    def __call__(self, noisy: np.ndarray, sample_rate: int, name: str) -> np.ndarray:
        rate = self.chain.SAMPLE_RATE
        latency = self.chain.LATENCY
        signal = resample(np.asarray(noisy, dtype=np.float64), sample_rate, rate)
        padded = np.concatenate([signal, np.zeros(latency)]).astype(np.float32)
        with self.torch.no_grad():
            out = self.chain.enhance(self.model, self.torch.from_numpy(padded)).numpy()
        out = resample(out[latency:].astype(np.float64), rate, sample_rate)
        return out[:noisy.shape[0]]


# --- Scores -----------------------------------------------------------------------------------


def run_systems(clip: Clip, enhancer) -> Dict[str, np.ndarray]:
    """Every system's output for one clip, each as long as the clip and aligned with it."""
    outputs = {"noisy": clip.noisy.astype(np.float64)}
    for db in SPEEX_SUPPRESS_DB:
        outputs[speex_system(db)] = speexdsp_denoise(clip.noisy, clip.sample_rate,
                                                     suppress_db=db).astype(np.float64)
    outputs["model"] = np.asarray(enhancer(clip.noisy, clip.sample_rate, clip.name),
                                  dtype=np.float64)
    return outputs


def score_clip(clip: Clip, outputs: Dict[str, np.ndarray]) -> Dict:
    """A per-clip row: the clip's description and SI-SDR, SI-SDRi and STOI of every system."""
    clean = clip.clean.astype(np.float64)
    noisy_si_sdr = si_sdr(outputs["noisy"], clean)
    scores = {}
    for system, audio in outputs.items():
        value = si_sdr(audio, clean)
        scores[system] = {"si_sdr": value, "si_sdri": value - noisy_si_sdr,
                          "stoi": stoi(clean, audio, clip.sample_rate)}
    return {"name": clip.name, "sample_rate": clip.sample_rate, "noise": clip.noise,
            "held_out_noise": clip.held_out_noise, "snr_db": clip.snr_db,
            "speaker": clip.speaker, "sentence_ids": list(clip.sentence_ids), "scores": scores}


def best_setting(means: Dict[str, float]) -> str:
    """The key with the largest mean (metrics here are higher-is-better); the first on a tie."""
    if not means:
        raise ValueError("no settings to choose from")
    return max(means, key=lambda key: (means[key], -list(means).index(key)))


def interval(values: Sequence[float]) -> Dict[str, float]:
    mean, low, high = bootstrap_mean_ci(values)
    return {"mean": mean, "low": low, "high": high}


def group_scores(rows: Sequence[Dict]) -> Dict:
    """{system: {metric: mean and 95 % interval}} over rows, plus the clip count."""
    return {"clips": len(rows),
            "systems": {system: {metric: interval([r["scores"][system][metric] for r in rows])
                                 for metric in METRIC_LABELS} for system in SYSTEMS}}


def summarise_rate(rows: Sequence[Dict]) -> Dict:
    """Overall, per-noise and per-SNR scores of one rate's rows, the best speexdsp setting per
    metric, and the model's paired difference from it (bootstrap over clips)."""
    overall = group_scores(rows)
    best = {metric: best_setting({s: overall["systems"][s][metric]["mean"] for s in SPEEX_SYSTEMS})
            for metric in GATE_METRICS}
    difference = {metric: interval([r["scores"]["model"][metric] - r["scores"][best[metric]][metric]
                                    for r in rows]) for metric in GATE_METRICS}
    by_noise = {}
    for kind in EVAL_NOISE_TYPES:
        selected = [r for r in rows if r["noise"] == kind]
        if selected:
            by_noise[kind] = dict(group_scores(selected), held_out=kind in HELDOUT_NOISE_TYPES)
    by_snr = {}
    for snr in SNR_GRID_DB:
        selected = [r for r in rows if r["snr_db"] == snr]
        if selected:
            by_snr[str(snr)] = group_scores(selected)
    return {"overall": overall, "best_speex": best, "model_minus_best_speex": difference,
            "by_noise": by_noise, "by_snr": by_snr}


def gate_verdict(means_by_rate: Dict[int, Dict[str, Dict[str, float]]]) -> Tuple[bool, str]:
    """(passed, verdict line). means_by_rate[rate][system][metric] holds mean scores of "model"
    and every SPEEX_SYSTEMS entry. Passes when, at every rate, the model's mean is above the
    best speexdsp setting's mean (chosen per metric) on both SI-SDRi and STOI."""
    if not means_by_rate:
        raise ValueError("no rate was evaluated")
    passed, parts = True, []
    for rate in sorted(means_by_rate):
        means = means_by_rate[rate]
        figures = []
        for metric in GATE_METRICS:
            best = best_setting({s: means[s][metric] for s in SPEEX_SYSTEMS})
            model, speex = means["model"][metric], means[best][metric]
            beats = model > speex
            passed = passed and beats
            form = "{:+.2f} dB" if metric == "si_sdri" else "{:.3f}"
            figures.append(f"{METRIC_LABELS[metric].split(' ')[0]} {form.format(model)} "
                           f"{'>' if beats else '<='} {form.format(speex)} "
                           f"({SYSTEM_LABELS[best]})")
        parts.append(f"{rate // 1000} kHz: " + ", ".join(figures))
    head = ("PASS: the model beats the best speexdsp setting on both metrics at every rate"
            if passed else
            "FAIL: the model does not beat the best speexdsp setting on both metrics at every rate")
    return passed, f"VERDICT {head}; " + "; ".join(parts)


# --- Report -----------------------------------------------------------------------------------


def format_interval(value: Dict[str, float], metric: str, signed: bool = False) -> str:
    form = "{:.3f}" if metric == "stoi" else ("{:+.2f}" if signed else "{:.2f}")
    return (f"{form.format(value['mean'])} "
            f"[{form.format(value['low'])}, {form.format(value['high'])}]")


def markdown_report(summary: Dict[int, Dict], verdict_line: str, header: Sequence[str]) -> str:
    lines = list(header)
    for rate, rate_summary in summary.items():
        overall = rate_summary["overall"]
        lines += ["", f"## {rate // 1000} kHz ({overall['clips']} clips)", "",
                  "Means with percentile-bootstrap 95 % intervals over clips.", "",
                  "| system | SI-SDR (dB) | SI-SDRi (dB) | STOI |", "|---|---:|---:|---:|"]
        for system in SYSTEMS:
            scores = overall["systems"][system]
            lines.append(f"| {SYSTEM_LABELS[system]}"
                         f" | {format_interval(scores['si_sdr'], 'si_sdr')}"
                         f" | {format_interval(scores['si_sdri'], 'si_sdri', True)}"
                         f" | {format_interval(scores['stoi'], 'stoi')} |")
        best = rate_summary["best_speex"]
        difference = rate_summary["model_minus_best_speex"]
        lines += ["", "Best speexdsp: " + "; ".join(
            f"{METRIC_LABELS[m]} {SYSTEM_LABELS[best[m]]}, model minus it "
            f"{format_interval(difference[m], m, True)}" for m in GATE_METRICS) + "."]
        for title, groups in (("noise type", rate_summary["by_noise"]),
                              ("SNR (dB)", rate_summary["by_snr"])):
            for metric in GATE_METRICS:
                # The noisy input's SI-SDRi is 0 by definition; its SI-SDR says more.
                first, first_metric = (("input SI-SDR (dB)", "si_sdr") if metric == "si_sdri"
                                       else ("noisy", "stoi"))
                processed = SPEEX_SYSTEMS + ("model",)
                lines += ["", f"{METRIC_LABELS[metric]} by {title}:", "",
                          f"| {title} | clips | {first} | "
                          + " | ".join(SYSTEM_LABELS[s] for s in processed) + " |",
                          "|---|---:|---:|" + "---:|" * len(processed)]
                for key, group in groups.items():
                    label = key + (" (held out)" if group.get("held_out") else "")
                    systems = group["systems"]
                    cells = [format_interval(systems["noisy"][first_metric], first_metric)]
                    cells += [format_interval(systems[s][metric], metric, True)
                              for s in processed]
                    lines.append(f"| {label} | {group['clips']} | " + " | ".join(cells) + " |")
    lines += ["", verdict_line, ""]
    return "\n".join(lines)


def sentence_reuse(clips: Sequence[Clip]) -> int:
    """How many target sentences appear in more than one clip (0 unless the pools ran out)."""
    seen: Dict[str, int] = {}
    for clip in clips:
        for sentence in clip.sentence_ids:
            seen[sentence] = seen.get(sentence, 0) + 1
    return sum(1 for count in seen.values() if count > 1)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("cli", "torch"), default="cli",
                        help="cli: statestream enhance; torch: model.py's enhance()")
    parser.add_argument("--statestream", default=DEFAULT_STATESTREAM)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--eval-shard", default=DEFAULT_EVAL_SHARD)
    parser.add_argument("--clips16", type=int, default=80)
    parser.add_argument("--clips48", type=int, default=40)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", help="write every figure, per clip and summarised, here")
    parser.add_argument("--markdown", help="write the score tables here")
    parser.add_argument("--gate", action="store_true",
                        help="exit 1 unless the model beats the best speexdsp setting")
    args = parser.parse_args(argv)
    if args.clips16 < 0 or args.clips48 < 0 or args.clips16 + args.clips48 == 0:
        parser.error("--clips16 and --clips48 must be >= 0 and not both 0")

    timings: Dict[str, float] = {}
    start = time.perf_counter()
    clips = build_clips(load_eval_utterances(args.eval_shard), args.clips16, args.clips48,
                        args.seed)
    timings["build_clips_s"] = time.perf_counter() - start
    reused = sentence_reuse(clips)
    if reused:
        print(f"note: {reused} sentences appear in more than one clip (the target pool ran out)",
              file=sys.stderr)

    rows: List[Dict] = []
    timings.update(systems_s=0.0, scoring_s=0.0)
    with tempfile.TemporaryDirectory(prefix="enhance_eval_") as work_dir:
        enhancer = (TorchEnhancer(args.model) if args.engine == "torch"
                    else CliEnhancer(args.statestream, args.model, work_dir))
        for number, clip in enumerate(clips, 1):
            began = time.perf_counter()
            try:
                outputs = run_systems(clip, enhancer)
            except RuntimeError as error:  # the engine failed: no verdict can be given
                print(f"evaluate: clip {clip.name}: {error}", file=sys.stderr)
                return 2
            scored = time.perf_counter()
            rows.append(score_clip(clip, outputs))
            timings["systems_s"] += scored - began
            timings["scoring_s"] += time.perf_counter() - scored
            if number % 20 == 0 or number == len(clips):
                print(f"{number}/{len(clips)} clips scored", file=sys.stderr)

    began = time.perf_counter()
    summary = {rate: summarise_rate([r for r in rows if r["sample_rate"] == rate])
               for rate in RATES if any(r["sample_rate"] == rate for r in rows)}
    passed, verdict_line = gate_verdict({
        rate: {system: {metric: s["overall"]["systems"][system][metric]["mean"]
                        for metric in GATE_METRICS} for system in SYSTEMS}
        for rate, s in summary.items()})
    timings["bootstrap_s"] = time.perf_counter() - began
    timings["total_s"] = time.perf_counter() - start

    description = (f"Held-out set: {args.eval_shard} (flite awb and rms, held-out sentences), "
                   f"seed {args.seed}; {args.clips16} clips at 16 kHz and {args.clips48} at "
                   f"48 kHz of {CLIP_SECONDS:g} s; noise types {', '.join(EVAL_NOISE_TYPES)} "
                   f"(held out: {', '.join(HELDOUT_NOISE_TYPES)}) at SNR "
                   f"{', '.join(map(str, SNR_GRID_DB))} dB. Model {args.model} through the "
                   f"{'engine command line' if args.engine == 'cli' else 'torch reference'}.")
    header = ["# Speech enhancer: held-out scores", "", description]
    markdown = markdown_report(summary, verdict_line, header)
    print(f"runtime: {timings['total_s']:.1f} s (clips {timings['build_clips_s']:.1f} s, "
          f"systems {timings['systems_s']:.1f} s, metrics {timings['scoring_s']:.1f} s, "
          f"bootstrap {timings['bootstrap_s']:.1f} s)", file=sys.stderr)
    print(markdown.rstrip("\n").rsplit("\n", 1)[0])  # the verdict line comes last, below
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(markdown)
    if args.json:
        report = {"description": description, "engine": args.engine, "model": args.model,
                  "statestream": args.statestream if args.engine == "cli" else None,
                  "set": {"eval_shard": args.eval_shard, "seed": args.seed,
                          "clips16": args.clips16, "clips48": args.clips48,
                          "clip_seconds": CLIP_SECONDS, "noise_types": EVAL_NOISE_TYPES,
                          "held_out_noise_types": HELDOUT_NOISE_TYPES, "snr_db": SNR_GRID_DB,
                          "mixture_rms_dbfs": MIXTURE_RMS_DBFS,
                          "babble_pool_utterances": BABBLE_POOL_UTTERANCES,
                          "reused_sentences": reused},
                  "systems": {s: SYSTEM_LABELS[s] for s in SYSTEMS},
                  "summary": {str(rate): s for rate, s in summary.items()},
                  "verdict": {"passed": passed, "line": verdict_line},
                  "runtime": timings, "clips": rows}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
    print(verdict_line)
    return 1 if args.gate and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
