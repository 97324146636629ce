#!/usr/bin/env python3
"""The recogniser's held-out test: WER and CER on unseen voices and sentences, clean and noisy.

    /usr/bin/python3 -m models.train.asr.evaluate_asr [--engines pocketsphinx pocketsphinx-lm]
        [--lm build/asr_speech/lm/words_3gram.arpa] [--statestream build/release/statestream
        [--model M]] [--torch-model data/models/transcriber.safetensors]
        [--eval-shard build/asr_speech/eval_asr_000.ssc] [--seed 1] [--limit N]
        [--reuse OLD.json] [--json OUT.json] [--markdown OUT.md] [--gate]

Held-out set (deterministic for a given --seed and shard):
  - speech: build/asr_speech/eval_asr_000.ssc, the recogniser's held-out voices (voice set
    "asr" of speech/voices.py: flite rms and espeak-ng en-gb-scotland with ordinary variants,
    never in any ASR training batch) reading eval-split sentences (split_of() == "eval": never
    in training audio nor in the LM's text), resampled to 16 kHz. Every utterance is checked on
    load; a training voice or sentence stops the run. A seeded shuffle sets the first
    BABBLE_POOL_UTTERANCES apart as babble talkers; the rest (280 of the 320 rendered) are the
    test utterances, each scored whole.
  - clean: each utterance scaled to MIXTURE_RMS_DBFS.
  - noisy: the same utterances with noise from models/train/enhance/noise.py: utterance i gets
    type EVAL_NOISE_TYPES[i mod 8] at SNR_GRID_DB[i mod 5] (0..20 dB), so every 40 consecutive
    utterances cover each (type, SNR) pair once; the noise of utterance i comes from its own
    generator (CRC-32 of seed and i), mixed by noise.mix_at_snr, then leveled like clean.
Engines (--engines, any of ENGINE_FACTORIES; or evaluate() from Python with any callable that
maps (float32 audio, sample rate, name) to text):
  pocketsphinx     pocketsphinx, en-us acoustic model, its default en-us LM and dictionary
  pocketsphinx-lm  the same acoustic model with our ARPA LM (--lm; ngram_lm.py)
  statestream      `statestream transcribe FILE.wav --format jsonl --lm none [--model M]` per
                   utterance: greedy CTC
  statestream-lm   the same with the default decoder: prefix beam search + our 3-gram LM
                   (--decoder-lm, --decoder-option pass choices through)
  torch            a transcriber model file (--torch-model) run in torch, greedy CTC: the
                   reference of what the engine computes (asr/model.py)
Scoring: text.scoring_form() on both sides (normalisation plus the British spelling of the few
words with an American variant), Levenshtein word and character errors (error_rates.py),
corpus WER/CER = errors / reference tokens with percentile-bootstrap 95 % intervals over
utterances, per condition, per held-out speaker and, for noisy, per noise type and per SNR.
Each model engine that runs is compared with its baselines (MODEL_ENGINES): a decoder without
an LM with pocketsphinx and its default LM; the decoder with our LM with both pocketsphinx
systems, one of which uses an ARPA LM built from the same training text. Paired WER
differences are reported, and the verdict says whether each model engine's WER is below the
better of its baselines in both conditions (--gate: exit 1 if not).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import error_rates  # noqa: E402
from asr import text as asr_text  # noqa: E402

DEFAULT_EVAL_SHARD = "build/asr_speech/eval_asr_000.ssc"
VOICE_SET = "asr"                   # speech/voices.py: whose voices this test holds out
DEFAULT_LM = "build/asr_speech/lm/words_3gram.arpa"
DEFAULT_STATESTREAM = "build/release/statestream"
DEFAULT_SEED = 1
SAMPLE_RATE = 16000                 # the recogniser's rate; espeak-ng's 22.05 kHz is resampled
MIN_TEST_UTTERANCES = 150           # the floor for a reportable figure
BABBLE_POOL_UTTERANCES = 40         # 3-8 talkers per babble clip; about 1.8 min of speech
# Fixed here rather than read from noise.py, so the test set does not move when training
# noise changes; tones and clicks are held out of enhancer (and ASR) training.
EVAL_NOISE_TYPES = ("tones", "clicks", "pink", "babble", "hum", "fan", "white", "brown")
SNR_GRID_DB = (0, 5, 10, 15, 20)
MIXTURE_RMS_DBFS = -25.0            # a typical speech level, far from clipping and the floor
PEAK_LIMIT = 0.99
CONDITIONS = ("clean", "noisy")

Engine = Callable[[np.ndarray, int, str], str]


# --- The held-out set -----------------------------------------------------------------------


@dataclass
class EvalItem:
    """One scored utterance of one condition: float32 audio at SAMPLE_RATE and its transcript."""
    name: str
    condition: str
    speaker: str
    sentence_id: str
    text: str
    noise: Optional[str]
    snr_db: Optional[float]
    audio: np.ndarray


def check_eval_utterance(utterance: Dict, index: int) -> str:
    """The held-out speaker of an eval-shard utterance. Anything that could have been trained
    on (a training voice, a train-split sentence) raises, naming the utterance."""
    from speech.sentences import normalise, sentence_id, split_of
    from speech.voices import EVAL_ONLY_VOICES_OF_SET
    held_out = EVAL_ONLY_VOICES_OF_SET[VOICE_SET]
    engine, voice = (str(utterance.get("voice", "")).split(":") + ["", ""])[:2]
    voice = voice.split("+")[0]
    text = str(utterance.get("text", ""))
    where = f"utterance {index} ({utterance.get('voice')!r}, {text!r})"
    if (engine, voice) not in held_out or utterance.get("split") != "eval":
        raise ValueError(f"{where} is not a held-out voice of the eval split; only "
                         f"{sorted(held_out)} may be scored. Pass the eval shard rendered "
                         "as models/train/asr/README.md says (--voice-set asr).")
    if split_of(text) != "eval" or normalise(text) != text or not text:
        raise ValueError(f"{where}: the transcript is not a normalised eval-split sentence")
    if utterance.get("sentence_id") != sentence_id(text):
        raise ValueError(f"{where}: sentence_id does not match the transcript")
    if int(utterance["sample_rate"]) not in (SAMPLE_RATE, 22050):
        raise ValueError(f"{where} is at {utterance['sample_rate']} Hz; the engines render at "
                         f"{SAMPLE_RATE} (flite) or 22050 Hz (espeak-ng)")
    return voice


def audio_at_eval_rate(utterance: Dict) -> np.ndarray:
    """An utterance's audio at SAMPLE_RATE, float64 (polyphase resampling for espeak-ng's
    22.05 kHz: 160/441)."""
    from math import gcd
    from scipy.signal import resample_poly
    audio = np.asarray(utterance["audio"], dtype=np.float64)
    rate = int(utterance["sample_rate"])
    if rate == SAMPLE_RATE:
        return audio
    common = gcd(rate, SAMPLE_RATE)
    return resample_poly(audio, SAMPLE_RATE // common, rate // common)


def split_pools(utterances: Sequence[Dict], seed: int,
                babble_utterances: int = BABBLE_POOL_UTTERANCES
                ) -> Tuple[List[Dict], List[Dict]]:
    """(targets, babble talkers): a seeded shuffle; the first babble_utterances are talkers."""
    for index, utterance in enumerate(utterances):
        check_eval_utterance(utterance, index)
    if len(utterances) <= babble_utterances:
        raise ValueError(f"the eval shard has {len(utterances)} utterances; need more than the "
                         f"{babble_utterances} set apart for babble")
    order = np.random.default_rng(seed).permutation(len(utterances))
    return ([utterances[i] for i in order[babble_utterances:]],
            [utterances[i] for i in order[:babble_utterances]])


def level(audio: np.ndarray, reference_rms: float) -> float:
    """Gain that brings audio of RMS reference_rms to MIXTURE_RMS_DBFS, peak <= PEAK_LIMIT."""
    gain = 10.0 ** (MIXTURE_RMS_DBFS / 20.0) / max(reference_rms, 1e-12)
    return min(gain, PEAK_LIMIT / max(float(np.max(np.abs(audio))), 1e-12))


def noise_seed(seed: int, index: int) -> int:
    """Each utterance's noise generator seed (CRC-32: stable across runs and machines)."""
    return zlib.crc32(f"asr:{seed}:{index}".encode())


def build_eval_set(utterances: Sequence[Dict], seed: int = DEFAULT_SEED,
                   limit: Optional[int] = None,
                   babble_utterances: int = BABBLE_POOL_UTTERANCES) -> List[EvalItem]:
    """Clean and noisy items (module docstring); item i of a condition does not depend on
    limit, so a short run is a prefix of the full one."""
    import torch
    from enhance import noise as noise_source
    targets, babble = split_pools(utterances, seed, babble_utterances)
    if limit is not None:
        targets = targets[:limit]
    talkers = [torch.from_numpy(audio_at_eval_rate(u).astype(np.float32)) for u in babble]
    items: List[EvalItem] = []
    for index, utterance in enumerate(targets):
        speaker = utterance["voice"].split(":")[1].split("+")[0]
        speech = audio_at_eval_rate(utterance)
        base = f"{index:03d}_{speaker}_{utterance['sentence_id']}"
        gain = level(speech, float(np.sqrt(np.mean(speech ** 2))))
        items.append(EvalItem(f"{base}_clean", "clean", speaker, utterance["sentence_id"],
                              utterance["text"], None, None,
                              (speech * gain).astype(np.float32)))
        kind = EVAL_NOISE_TYPES[index % len(EVAL_NOISE_TYPES)]
        snr_db = float(SNR_GRID_DB[index % len(SNR_GRID_DB)])
        generator = torch.Generator().manual_seed(noise_seed(seed, index))
        noise = noise_source.make_noise(kind, speech.shape[0], SAMPLE_RATE, generator,
                                        speech=talkers).to(torch.float64)
        noisy, _ = noise_source.mix_at_snr(torch.from_numpy(speech), noise, snr_db)
        noisy = noisy.numpy()
        gain = level(noisy, float(np.sqrt(np.mean(noisy ** 2))))
        items.append(EvalItem(f"{base}_{kind}_{int(snr_db):+d}dB", "noisy", speaker,
                              utterance["sentence_id"], utterance["text"], kind, snr_db,
                              (noisy * gain).astype(np.float32)))
    return items


def set_fingerprint(items: Sequence[EvalItem]) -> str:
    """SHA-256 over every item's name, transcript and audio: a reused result must match it."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.name.encode())
        digest.update(item.text.encode())
        digest.update(np.ascontiguousarray(item.audio).tobytes())
    return digest.hexdigest()[:16]


# --- Engines ------------------------------------------------------------------------------------


def _pocketsphinx_default(args, work_dir: str) -> Engine:
    from asr.pocketsphinx_baseline import PocketsphinxRecogniser
    recogniser = PocketsphinxRecogniser(None)
    return lambda audio, rate, name: recogniser(audio, rate)


def _pocketsphinx_lm(args, work_dir: str) -> Engine:
    from asr.pocketsphinx_baseline import PocketsphinxRecogniser
    recogniser = PocketsphinxRecogniser(args.lm, work_dir=work_dir, strict=True)
    return lambda audio, rate, name: recogniser(audio, rate)


class StatestreamCli:
    """`statestream transcribe FILE.wav --format jsonl [--model M]` per utterance.

    Expected output (the contract this harness reads; the command is not built yet): one JSON
    object per line; the transcript is the space-joined "text" of the lines with
    "final": true, or, when no line says final, the "text" of the last line that has one.
    A non-zero exit status stops the evaluation with the command's stderr."""

    def __init__(self, binary: str, model: Optional[str], work_dir: str,
                 decoder_options: Sequence[str] = ()):
        if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary}: no statestream binary there. Build it (cmake --preset "
                             "release && cmake --build --preset release) or pass "
                             "--statestream PATH.")
        self.binary, self.model, self.work_dir = binary, model, work_dir
        self.decoder_options = list(decoder_options)

    def __call__(self, audio: np.ndarray, rate: int, name: str) -> str:
        import scipy.io.wavfile
        path = os.path.join(self.work_dir, f"{name}.wav")
        scipy.io.wavfile.write(path, rate, np.asarray(audio, dtype=np.float32))
        options = (["--model", self.model] if self.model else []) + self.decoder_options
        try:
            return transcribe_files(self.binary, [path], options)[path]
        finally:
            os.remove(path)


def _jsonl_records(output: str, where: str) -> List[Dict]:
    records = []
    for number, line in enumerate(output.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as error:
            raise RuntimeError(f"{where}: output line {number} is not JSON ({error}): "
                               f"{line[:200]!r}") from None
    return [r for r in records if isinstance(r, dict)]


def _transcript_of(records: Sequence[Dict]) -> str:
    with_text = [r for r in records if isinstance(r.get("text"), str)]
    finals = [r["text"] for r in with_text if r.get("final") is True]
    if finals:
        return " ".join(finals)
    return with_text[-1]["text"] if with_text else ""


def parse_transcribe_jsonl(output: str, where: str = "statestream transcribe") -> str:
    """The transcript in `statestream transcribe --format jsonl` output (StatestreamCli)."""
    return _transcript_of(_jsonl_records(output, where))


FILES_PER_CALL = 200        # keeps each command line well under the kernel's argument limit


def transcribe_files(binary: str, paths: Sequence[str], options: Sequence[str] = ()
                     ) -> Dict[str, str]:
    """{path: transcript} of `statestream transcribe --format jsonl OPTIONS PATH...`, many
    files per call (one model and LM load for each call). Raises RuntimeError with the
    command's stderr when it fails."""
    texts: Dict[str, str] = {}
    for start in range(0, len(paths), FILES_PER_CALL):
        batch = list(paths[start:start + FILES_PER_CALL])
        command = [binary, "transcribe", "--format", "jsonl", *options, *batch]
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        where = " ".join(command[:4 + len(options)]) + " ..."
        if result.returncode != 0:
            raise RuntimeError(f"`{where}` exited with {result.returncode}: "
                               f"{result.stderr.strip()[:400]}")
        by_file: Dict[str, List[Dict]] = {}
        for record in _jsonl_records(result.stdout, where):
            # A lone file's lines belong to it even without a "file" field.
            owner = record.get("file", batch[0] if len(batch) == 1 else None)
            by_file.setdefault(str(owner), []).append(record)
        for path in batch:
            texts[path] = _transcript_of(by_file.get(path, []))
    return texts


def _statestream(args, work_dir: str) -> Engine:
    return StatestreamCli(args.statestream, args.model, work_dir, ["--lm", "none"])


def _statestream_lm(args, work_dir: str) -> Engine:
    options = ["--lm", args.decoder_lm] if args.decoder_lm else []
    return StatestreamCli(args.statestream, args.model, work_dir, options + args.decoder_option)


def _torch_model(args, work_dir: str) -> Engine:
    from asr.model import ModelFileTranscriber
    return ModelFileTranscriber(args.torch_model)


# name -> (factory(args, work_dir) -> Engine, label in the report). Add an engine here, or pass
# callables to evaluate() directly (a training script can score its torch model that way).
ENGINE_FACTORIES: Dict[str, Tuple[Callable, str]] = {
    "pocketsphinx": (_pocketsphinx_default, "pocketsphinx, en-us AM + default en-us LM"),
    "pocketsphinx-lm": (_pocketsphinx_lm, "pocketsphinx, en-us AM + our 3-gram ARPA LM"),
    "statestream": (_statestream, "statestream transcribe, greedy CTC (--lm none)"),
    "statestream-lm": (_statestream_lm, "statestream transcribe, beam search + our 3-gram LM"),
    "torch": (_torch_model, "transcriber model file in torch, greedy CTC"),
}
BASELINES = ("pocketsphinx", "pocketsphinx-lm")
# Each model engine and the baselines it must beat: without an LM, pocketsphinx with its own
# default LM; with our LM, both pocketsphinx systems (the same LM text as ours, and its own).
MODEL_ENGINES = {"statestream-lm": BASELINES, "statestream": ("pocketsphinx",),
                 "torch": ("pocketsphinx",)}


# --- Scoring ------------------------------------------------------------------------------------


def evaluate(engines: Dict[str, Engine], items: Sequence[EvalItem],
             progress: bool = True) -> Dict[str, List[Dict]]:
    """{engine: [row per item]}: each row has the item's description, the reference and the
    hypothesis in scoring form, word/char error counts and the decoding time."""
    results: Dict[str, List[Dict]] = {}
    for engine_name, engine in engines.items():
        rows = []
        started = time.perf_counter()
        for number, item in enumerate(items, 1):
            began = time.perf_counter()
            raw = engine(item.audio, SAMPLE_RATE, item.name)
            seconds = time.perf_counter() - began
            rows.append(score_row(item, raw, seconds))
            if progress and (number % 50 == 0 or number == len(items)):
                print(f"  {engine_name}: {number}/{len(items)} utterances, "
                      f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        results[engine_name] = rows
    return results


def score_row(item: EvalItem, hypothesis: str, seconds: float) -> Dict:
    reference = asr_text.scoring_form(item.text)
    scored = asr_text.scoring_form(hypothesis)
    words = error_rates.word_edits(reference, scored)
    chars = error_rates.char_edits(reference, scored)
    return {"name": item.name, "condition": item.condition, "speaker": item.speaker,
            "sentence_id": item.sentence_id, "noise": item.noise, "snr_db": item.snr_db,
            "reference": reference, "hypothesis": scored, "raw_hypothesis": hypothesis,
            "word_errors": words.errors, "words": words.reference_length,
            "substitutions": words.substitutions, "deletions": words.deletions,
            "insertions": words.insertions, "char_errors": chars.errors,
            "chars": chars.reference_length, "decode_seconds": seconds,
            "audio_seconds": item.audio.shape[0] / SAMPLE_RATE}


def summarise_rows(rows: Sequence[Dict]) -> Dict:
    table = {key: [r[key] for r in rows] for key in (
        "word_errors", "words", "char_errors", "chars", "substitutions", "deletions",
        "insertions")}
    summary = error_rates.summarise(table)
    audio = sum(r["audio_seconds"] for r in rows)
    summary["real_time_factor"] = sum(r["decode_seconds"] for r in rows) / max(audio, 1e-9)
    return summary


def summarise(results: Dict[str, List[Dict]]) -> Dict:
    """Per engine and condition: overall, per noise type and per SNR; paired differences and
    the verdict when the model engine ran."""
    summary: Dict = {"engines": {}}
    for engine, rows in results.items():
        per_condition = {}
        for condition in CONDITIONS:
            selected = [r for r in rows if r["condition"] == condition]
            if not selected:
                continue
            entry = {"overall": summarise_rows(selected),
                     "by_speaker": {speaker: summarise_rows([r for r in selected
                                                             if r["speaker"] == speaker])
                                    for speaker in sorted({r["speaker"] for r in selected})}}
            if condition == "noisy":
                entry["by_noise"] = {kind: summarise_rows([r for r in selected
                                                           if r["noise"] == kind])
                                     for kind in EVAL_NOISE_TYPES
                                     if any(r["noise"] == kind for r in selected)}
                entry["by_snr"] = {str(int(snr)): summarise_rows([r for r in selected
                                                                 if r["snr_db"] == snr])
                                   for snr in SNR_GRID_DB
                                   if any(r["snr_db"] == snr for r in selected)}
            per_condition[condition] = entry
        summary["engines"][engine] = per_condition
    models = [name for name in MODEL_ENGINES if name in results
              and any(b in results for b in MODEL_ENGINES[name])]
    if models:
        summary["model_minus_baseline"], verdicts = {}, []
        for model in models:
            summary["model_minus_baseline"][model], verdict = compare_to_baselines(
                results, model, MODEL_ENGINES[model])
            verdicts.append(verdict)
        passed = all(v["passed"] for v in verdicts)
        summary["verdict"] = {"passed": passed, "line": "\n".join(v["line"] for v in verdicts)}
    return summary


def compare_to_baselines(results: Dict[str, List[Dict]], model: str,
                         baselines: Sequence[str] = BASELINES) -> Tuple[Dict, Dict]:
    """Paired WER differences of a model engine to each of its baselines, and its verdict: the
    model's corpus WER must be below the better baseline's in every condition."""
    differences: Dict = {}
    passed, parts = True, []
    model_rows = {r["name"]: r for r in results[model]}
    for condition in CONDITIONS:
        names = [r["name"] for r in results[model] if r["condition"] == condition]
        if not names:
            continue
        lengths = [model_rows[n]["words"] for n in names]
        model_errors = [model_rows[n]["word_errors"] for n in names]
        model_wer = error_rates.corpus_rate(model_errors, lengths)
        best_name, best_wer = None, None
        for baseline in baselines:
            if baseline not in results:
                continue
            rows = {r["name"]: r for r in results[baseline]}
            if any(n not in rows for n in names):
                raise ValueError(f"{baseline} was not scored on the same {condition} items")
            errors = [rows[n]["word_errors"] for n in names]
            diff, low, high = error_rates.bootstrap_paired_difference_ci(model_errors, errors,
                                                                          lengths)
            differences.setdefault(condition, {})[baseline] = {"wer_difference": diff,
                                                               "low": low, "high": high}
            wer = error_rates.corpus_rate(errors, lengths)
            if best_wer is None or wer < best_wer:
                best_name, best_wer = baseline, wer
        beats = model_wer < best_wer
        passed = passed and beats
        parts.append(f"{condition}: WER {100 * model_wer:.2f} % {'<' if beats else '>='} "
                     f"{100 * best_wer:.2f} % ({best_name})")
    against = " and ".join(baselines)
    head = (f"PASS: {model}'s WER is below {against} in every condition" if passed else
            f"FAIL: {model}'s WER is not below {against} in every condition")
    return differences, {"passed": passed, "line": f"VERDICT {head}; " + "; ".join(parts)}


# --- Report -------------------------------------------------------------------------------------


def _pct(value: Dict) -> str:
    return (f"{100 * value['rate']:.2f} [{100 * value['low']:.2f}, "
            f"{100 * value['high']:.2f}]")


def markdown_report(summary: Dict, labels: Dict[str, str], header: Sequence[str]) -> str:
    lines = list(header) + [
        "", "Corpus WER and CER in % (errors / reference tokens) with percentile-bootstrap 95 % "
        "intervals over utterances; S/D/I are word substitutions, deletions, insertions; RTF is "
        "decoding time / audio time on this machine.", "",
        "| system | condition | utterances | WER % | CER % | S / D / I | RTF |",
        "|---|---|---:|---:|---:|---:|---:|"]
    for engine, conditions in summary["engines"].items():
        for condition, entry in conditions.items():
            o = entry["overall"]
            lines.append(f"| {labels.get(engine, engine)} | {condition} | {o['utterances']} | "
                         f"{_pct(o['wer'])} | {_pct(o['cer'])} | {o['substitutions']} / "
                         f"{o['deletions']} / {o['insertions']} | "
                         f"{o['real_time_factor']:.2f} |")
    engines = list(summary["engines"])
    lines += ["", "WER % by held-out speaker:", "",
              "| speaker | condition | utterances | " + " | ".join(labels.get(e, e)
                                                          for e in engines) + " |",
              "|---|---|---:|" + "---:|" * len(engines)]
    for condition, entry in summary["engines"][engines[0]].items():
        for speaker, first in entry.get("by_speaker", {}).items():
            cells = [_pct(summary["engines"][e][condition]["by_speaker"][speaker]["wer"])
                     if speaker in summary["engines"][e].get(condition, {}).get("by_speaker", {})
                     else "-" for e in engines]
            lines.append(f"| {speaker} | {condition} | {first['utterances']} | "
                         + " | ".join(cells) + " |")
    for title, key in (("noise type", "by_noise"), ("SNR (dB)", "by_snr")):
        groups = [g for g in (summary["engines"][engines[0]].get("noisy", {}).get(key, {}))]
        if not groups:
            continue
        lines += ["", f"Noisy WER % by {title}:", "",
                  f"| {title} | utterances | " + " | ".join(labels.get(e, e) for e in engines)
                  + " |", "|---|---:|" + "---:|" * len(engines)]
        for group in groups:
            cells = [_pct(summary["engines"][e]["noisy"][key][group]["wer"]) for e in engines]
            count = summary["engines"][engines[0]]["noisy"][key][group]["utterances"]
            held = " (held out of training)" if key == "by_noise" and \
                group in ("tones", "clicks") else ""
            lines.append(f"| {group}{held} | {count} | " + " | ".join(cells) + " |")
    if "model_minus_baseline" in summary:
        lines += ["", "Model WER minus baseline WER (paired bootstrap, percentage points):", ""]
        for model, conditions in summary["model_minus_baseline"].items():
            for condition, baselines in conditions.items():
                for baseline, value in baselines.items():
                    lines.append(f"- {labels.get(model, model)} minus "
                                 f"{labels.get(baseline, baseline)}, {condition}: "
                                 f"{100 * value['wer_difference']:+.2f} "
                                 f"[{100 * value['low']:+.2f}, {100 * value['high']:+.2f}]")
        lines += [""] + [line + "  " for line in summary["verdict"]["line"].split("\n")]
    return "\n".join(lines) + "\n"


def load_reused(path: str, fingerprint: str, wanted: Sequence[str]) -> Dict[str, List[Dict]]:
    """Rows of earlier runs of engines in `wanted` from a report of this very set."""
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    if report.get("set", {}).get("fingerprint") != fingerprint:
        raise SystemExit(f"{path}: scored a different held-out set (fingerprint "
                         f"{report.get('set', {}).get('fingerprint')}, now {fingerprint}); "
                         "run the engines again instead of reusing it")
    return {engine: rows for engine, rows in report.get("rows", {}).items() if engine in wanted}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=list(BASELINES),
                        choices=sorted(ENGINE_FACTORIES))
    parser.add_argument("--lm", default=DEFAULT_LM, help="ARPA LM for pocketsphinx-lm")
    parser.add_argument("--statestream", default=DEFAULT_STATESTREAM,
                        help="statestream binary for the statestream engine")
    parser.add_argument("--model", help="model file passed to statestream transcribe")
    parser.add_argument("--decoder-lm", help="ARPA LM for the statestream-lm engine (default: "
                        "the one statestream transcribe finds beside the model)")
    parser.add_argument("--decoder-option", action="append", default=[], metavar="ARG",
                        help="extra argument for the statestream-lm engine's transcribe, e.g. "
                             "--decoder-option=--beam --decoder-option=32")
    parser.add_argument("--torch-model", default="data/models/transcriber.safetensors",
                        help="model file the torch engine runs")
    parser.add_argument("--eval-shard", default=DEFAULT_EVAL_SHARD)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--limit", type=int,
                        help=f"score only the first N test utterances (a smoke run; figures "
                             f"below {MIN_TEST_UTTERANCES} utterances are marked as such)")
    parser.add_argument("--reuse", help="take engines' rows from this earlier --json report "
                                        "of the same set instead of running them again")
    parser.add_argument("--json", help="write every figure and every hypothesis here")
    parser.add_argument("--markdown", help="write the tables here")
    parser.add_argument("--gate", action="store_true",
                        help="exit 1 unless the model (statestream, else torch) beats the better "
                        "pocketsphinx system")
    args = parser.parse_args(argv)

    from speech.shard import read_shard
    if not os.path.exists(args.eval_shard):
        raise SystemExit(f"{args.eval_shard}: eval shard not found; render it as "
                         "models/train/speech/README.md says (render.py --split eval "
                         "--count 300 --seed 1001)")
    started = time.perf_counter()
    items = build_eval_set(read_shard(args.eval_shard), args.seed, args.limit)
    fingerprint = set_fingerprint(items)
    utterance_count = sum(1 for item in items if item.condition == "clean")
    build_seconds = time.perf_counter() - started

    results = load_reused(args.reuse, fingerprint, args.engines) if args.reuse else {}
    with tempfile.TemporaryDirectory(prefix="asr_eval_") as work_dir:
        engines = {name: ENGINE_FACTORIES[name][0](args, work_dir)
                   for name in args.engines if name not in results}
        try:
            results.update(evaluate(engines, items))
        except RuntimeError as error:
            print(f"evaluate_asr: {error}", file=sys.stderr)
            return 2
    results = {name: results[name] for name in args.engines}
    summary = summarise(results)
    labels = {name: ENGINE_FACTORIES[name][1] for name in ENGINE_FACTORIES}

    small = utterance_count < MIN_TEST_UTTERANCES
    clean_minutes = sum(i.audio.shape[0] for i in items if i.condition == "clean") / \
        SAMPLE_RATE / 60.0
    description = (f"Held-out set: {args.eval_shard} (flite rms and espeak-ng "
                   f"en-gb-scotland, eval-split sentences), "
                   f"seed {args.seed}, {utterance_count} utterances ({clean_minutes:.1f} min) "
                   f"clean and the same with noise ({', '.join(EVAL_NOISE_TYPES)}; SNR "
                   f"{', '.join(map(str, SNR_GRID_DB))} dB); {BABBLE_POOL_UTTERANCES} "
                   f"utterances set apart as babble talkers; set fingerprint {fingerprint}."
                   + (f" SMOKE RUN: fewer than {MIN_TEST_UTTERANCES} utterances, not a "
                      "reportable figure." if small else ""))
    if "pocketsphinx-lm" in args.engines:
        description += f" Our LM: {args.lm}."
    markdown = markdown_report(summary, labels, ["# Speech recogniser: held-out scores", "",
                                                 description])
    print(markdown)
    print(f"runtime: {time.perf_counter() - started:.0f} s (set {build_seconds:.0f} s)",
          file=sys.stderr)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(markdown)
    if args.json:
        report = {"schema": "statestream.asr_eval/1", "description": description,
                  "set": {"eval_shard": args.eval_shard, "seed": args.seed,
                          "utterances": utterance_count, "fingerprint": fingerprint,
                          "noise_types": EVAL_NOISE_TYPES, "snr_db": SNR_GRID_DB,
                          "babble_pool_utterances": BABBLE_POOL_UTTERANCES,
                          "mixture_rms_dbfs": MIXTURE_RMS_DBFS},
                  "engines": {name: labels[name] for name in args.engines},
                  "lm": args.lm if "pocketsphinx-lm" in args.engines else None,
                  "summary": summary, "rows": results}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
    passed = summary.get("verdict", {}).get("passed")
    return 1 if args.gate and passed is not True else 0


if __name__ == "__main__":
    sys.exit(main())
