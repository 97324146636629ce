#!/usr/bin/env python3
"""Checkpoint -> engine model file, and greedy WER/CER on the development shard.

    python3 -m models.train.asr.export_transcriber --checkpoint build/asr/checkpoint.pt \\
        [--out data/models/transcriber.safetensors] [--report] [--no-export]
    python3 -m models.train.asr.export_transcriber --report --no-export \\
        --checkpoint build/asr/weights_step*.pt          # choose among checkpoints on dev

--report scores each checkpoint on build/asr_speech/dev_000.ssc (training voices, 400
sentences in no training shard and not in the LM), through the exported form of the model
(normalisation folded into input_proj, float32), greedy CTC:
  - the shard's utterances of the recogniser's test voices (espeak-ng en-gb-scotland, 34 of
    400) are dropped first;
  - a seeded shuffle (seed 1) sets DEV_BABBLE_UTTERANCES apart as babble talkers; the other
    326 are scored whole, at 16 kHz;
  - clean: each utterance leveled to -25 dBFS RMS;
  - noisy: utterance i gets training noise type TRAIN_NOISE_TYPES[i mod 6] (white, pink, brown,
    hum, babble, fan: no held-out type) at SNR (0, 5, 10, 15, 20)[i mod 5] dB, from its own
    seeded generator, then leveled like clean.
The development set is where checkpoints and settings are chosen; the held-out test
(evaluate_asr.py, voices rms and en-gb-scotland) is never used for that.

Export writes the model file with task "transcribe", the log_mel front-end, the recipe, and
"labels" (the symbol of each output index, blank first as ""); it checks that the file loads
back and gives the checkpoint's logits, and refuses files over 8 MB.
"""
import argparse
import json
import os
import sys
import zlib
from typing import Dict, List, Sequence

import numpy as np
import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import error_rates  # noqa: E402
from asr import text as asr_text  # noqa: E402
from asr.model import (FRONTEND, SAMPLE_RATE, ModelFileTranscriber, Transcriber,  # noqa: E402
                       features, labels_metadata, transcribe)
from export import export_model  # noqa: E402

MAX_BYTES = 8 * 1024 * 1024
DEFAULT_DEV_SHARD = "build/asr_speech/dev_000.ssc"
DEV_SEED = 1
DEV_BABBLE_UTTERANCES = 40
DEV_SNR_DB = (0, 5, 10, 15, 20)
DEV_LEVEL_DBFS = -25.0


def load_transcriber(path: str) -> (Transcriber, dict):
    """A Transcriber from checkpoint.pt or weights_stepN.pt (train.py), on the CPU."""
    from asr.train import load_checkpoint
    state = load_checkpoint(path, "cpu")
    model = Transcriber(state["architecture"])
    model.load_state_dict(state["model"])
    return model.eval(), state


def dev_items(shard: str, seed: int = DEV_SEED) -> List[Dict]:
    """Clean and noisy development items (module docstring): dicts with name, condition,
    noise, snr_db, text and float32 16 kHz audio."""
    from asr.mdct_pack import resample_to_16k
    from enhance import noise as noise_source
    from speech.shard import read_shard
    from asr.data import held_out_by_recogniser
    # The development shard was rendered before the recogniser had its own voice set: its
    # en-gb-scotland utterances belong to the test's voices and never take part in choices.
    utterances = [u for u in read_shard(shard) if not held_out_by_recogniser(u)]
    order = np.random.default_rng(seed).permutation(len(utterances))
    audio = {int(i): resample_to_16k(utterances[i]["audio"], int(utterances[i]["sample_rate"]))
             for i in order}
    talkers = [torch.from_numpy(audio[int(i)].astype(np.float32))
               for i in order[:DEV_BABBLE_UTTERANCES]]
    items = []
    for index, k in enumerate(order[DEV_BABBLE_UTTERANCES:]):
        speech = audio[int(k)]
        text = utterances[int(k)]["text"]
        items.append({"name": f"{index:03d}_clean", "condition": "clean", "noise": None,
                      "snr_db": None, "text": text, "audio": _level(speech)})
        kind = noise_source.TRAIN_NOISE_TYPES[index % len(noise_source.TRAIN_NOISE_TYPES)]
        snr = float(DEV_SNR_DB[index % len(DEV_SNR_DB)])
        generator = torch.Generator().manual_seed(zlib.crc32(f"asr-dev:{seed}:{index}".encode()))
        noise = noise_source.make_noise(kind, speech.shape[0], SAMPLE_RATE, generator,
                                        speech=talkers).to(torch.float64)
        noisy, _ = noise_source.mix_at_snr(torch.from_numpy(speech), noise, snr)
        items.append({"name": f"{index:03d}_{kind}_{int(snr):+d}dB", "condition": "noisy",
                      "noise": kind, "snr_db": snr, "text": text,
                      "audio": _level(noisy.numpy())})
    return items


def _level(audio: np.ndarray) -> np.ndarray:
    gain = 10.0 ** (DEV_LEVEL_DBFS / 20.0) / max(float(np.sqrt(np.mean(audio ** 2))), 1e-12)
    gain = min(gain, 0.99 / max(float(np.max(np.abs(audio))), 1e-12))
    return (audio * gain).astype(np.float32)


def score(model, items: Sequence[Dict]) -> Dict:
    """Greedy transcripts of every item by `model` (an exported SsmModel or a Transcriber)
    and the WER/CER summary per condition (and per SNR for noisy)."""
    # Silent bands and decaying states reach denormal floats, which the CPU computes many times
    # slower (the engine sets FTZ/DAZ for the same reason); flushed to zero they change nothing.
    torch.set_flush_denormal(True)
    rows = []
    for item in items:
        hypothesis = transcribe(model, torch.from_numpy(item["audio"]))
        rows.append(dict((k, v) for k, v in item.items() if k != "audio"))
        rows[-1]["hypothesis"] = asr_text.scoring_form(hypothesis)
        rows[-1]["reference"] = asr_text.scoring_form(item["text"])
    out: Dict = {"rows": rows}
    for condition in ("clean", "noisy"):
        chosen = [r for r in rows if r["condition"] == condition]
        table = error_rates.score_pairs([r["reference"] for r in chosen],
                                        [r["hypothesis"] for r in chosen])
        out[condition] = error_rates.summarise(table)
    noisy = [r for r in rows if r["condition"] == "noisy"]
    out["noisy_by_snr"] = {}
    for snr in DEV_SNR_DB:
        chosen = [r for r in noisy if r["snr_db"] == snr]
        table = error_rates.score_pairs([r["reference"] for r in chosen],
                                        [r["hypothesis"] for r in chosen])
        out["noisy_by_snr"][str(snr)] = error_rates.corpus_rate(table["word_errors"],
                                                                table["words"])
    return out


def _pct(entry: Dict) -> str:
    return f"{100 * entry['rate']:.2f} [{100 * entry['low']:.2f}, {100 * entry['high']:.2f}]"


def report_line(name: str, result: Dict) -> str:
    snr = ", ".join(f"{k} dB {100 * v:.1f}" for k, v in result["noisy_by_snr"].items())
    return (f"{name}: clean WER {_pct(result['clean']['wer'])} CER {_pct(result['clean']['cer'])}"
            f" | noisy WER {_pct(result['noisy']['wer'])} CER {_pct(result['noisy']['cer'])}"
            f" | noisy WER by SNR: {snr}")


def check_export(model: Transcriber, exported, path: str) -> float:
    """Largest |logit difference| between the checkpoint (with its normalisation), the folded
    SsmModel and the written file, on seeded audio; raises above 1e-3."""
    generator = torch.Generator().manual_seed(3)
    audio = torch.randn(SAMPLE_RATE * 2, generator=generator) * 0.05
    raw = features(audio)[None]
    with torch.no_grad():
        reference = model(raw)[0]
        folded = exported(raw)[0][0]
        written = ModelFileTranscriber(path).model(raw)[0][0]
    error = max(float((reference - folded).abs().max()), float((reference - written).abs().max()))
    if error > 1e-3:
        raise SystemExit(f"{path}: the exported model's logits differ from the checkpoint's "
                         f"by {error:.2e} (more than 1e-3); not a faithful export")
    return error


def main(argv=None) -> int:
    root = os.path.dirname(os.path.dirname(_TRAIN_DIR))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", nargs="+",
                        default=[os.path.join(root, "build/asr/checkpoint.pt")],
                        help="checkpoint(s); with several, --report scores each and the last "
                             "is exported")
    parser.add_argument("--out", default=os.path.join(root, "data/models/transcriber.safetensors"))
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--report", action="store_true", help="greedy WER/CER on --dev-shard")
    parser.add_argument("--report-json", help="write the report's figures and rows here")
    parser.add_argument("--dev-shard", default=os.path.join(root, DEFAULT_DEV_SHARD))
    args = parser.parse_args(argv)

    reports = {}
    if args.report:
        items = dev_items(args.dev_shard)
        for path in args.checkpoint:
            model, state = load_transcriber(path)
            result = score(model.exported(), items)
            result.update({"step": state.get("step"), "train_minutes": state.get("train_minutes")})
            reports[path] = result
            print(report_line(f"{path} (step {state.get('step')})", result), flush=True)
        if args.report_json:
            with open(args.report_json, "w", encoding="utf-8") as handle:
                json.dump({"schema": "statestream.asr_dev/1", "dev_shard": args.dev_shard,
                           "seed": DEV_SEED, "reports": reports}, handle, indent=1)
    if args.no_export:
        return 0
    path = args.checkpoint[-1]
    model, state = load_transcriber(path)
    exported = model.exported()
    train_args = state.get("args", {})
    recipe = {"name": "transcriber-mamba2-ctc29", "script": "models/train/asr/train.py",
              "recipe": "models/train/asr/RECIPE.md", "seed": train_args.get("seed"),
              "steps": state.get("step"), "batch": train_args.get("batch"),
              "lr": train_args.get("lr"), "train_minutes": state.get("train_minutes"),
              "data": state.get("sources"), "decoding": "greedy CTC, blank = index 0"}
    size = export_model(exported, args.out, task="transcribe", frontend=FRONTEND, recipe=recipe,
                        extra_metadata=labels_metadata())
    if size > MAX_BYTES:
        os.remove(args.out)
        raise SystemExit(f"{args.out}: {size} bytes is over the {MAX_BYTES}-byte limit; removed")
    error = check_export(model, exported, args.out)
    print(f"wrote {args.out}: {size} bytes, step {state.get('step')}; logits match the "
          f"checkpoint to {error:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
