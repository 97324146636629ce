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
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

# torch (noise.py, model.py) is imported inside the functions that need it, so check_slice.py,
# which only runs the engine and scores files, works with numpy and scipy alone.
from enhance.metrics import bootstrap_mean_ci, si_sdr, stoi  # noqa: E402
from enhance.speexdsp_baseline import speexdsp_denoise  # noqa: E402
# The set's names stay importable from here (make_slice, check_slice, make_example, the tests).
from enhance.heldout_set import (BABBLE_POOL_UTTERANCES, CLIP_SECONDS,  # noqa: E402,F401
                                 DEFAULT_EVAL_SHARD, DEFAULT_SEED, EVAL_NOISE_TYPES,
                                 HELDOUT_NOISE_TYPES, MIXTURE_RMS_DBFS, RATES, SNR_GRID_DB, Clip,
                                 build_clips, load_eval_utterances, read_wav, resample,
                                 sentence_reuse, split_pools, write_wav)

REPO_ROOT = os.path.dirname(os.path.dirname(_TRAIN_DIR))
DEFAULT_STATESTREAM = "build/release/statestream"
DEFAULT_MODEL = "data/models/enhancer.safetensors"

SPEEX_SUPPRESS_DB = (-10, -15, -25, -40)
GATE_METRICS = ("si_sdri", "stoi")  # both higher-is-better
METRIC_LABELS = {"si_sdr": "SI-SDR (dB)", "si_sdri": "SI-SDRi (dB)", "stoi": "STOI"}


def speex_system(suppress_db: int) -> str:
    return f"speex{suppress_db}"


SPEEX_SYSTEMS = tuple(speex_system(db) for db in SPEEX_SUPPRESS_DB)
SYSTEMS = ("noisy",) + SPEEX_SYSTEMS + ("model",)
SYSTEM_LABELS = {"noisy": "noisy", "model": "model",
                 **{speex_system(db): f"speexdsp {db} dB" for db in SPEEX_SUPPRESS_DB}}


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
