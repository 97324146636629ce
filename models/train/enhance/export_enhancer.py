#!/usr/bin/env python3
"""Checkpoint -> engine model file, and an optional held-out report.

    python3 -m models.train.enhance.export_enhancer --checkpoint build/enhance/checkpoint.pt \
        [--out data/models/enhancer.safetensors] [--report 20]

--report N scores N clips of build/speech/eval_000.ssc (held-out voices and sentences) mixed
with held-out (tones, clicks) and training noises at 0-10 dB: SI-SDR improvement and STOI for
the noisy input, this model and speexdsp at -15 dB. Reporting only: nothing here feeds back
into training or model choice.
"""
import argparse
import os
import sys

import numpy as np
import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from enhance.model import FRONTEND, LATENCY, SAMPLE_RATE, enhance  # noqa: E402
from ssm_model import SsmModel  # noqa: E402
from export import export_model  # noqa: E402

MAX_BYTES = 8 * 1024 * 1024


def load_checkpoint(path: str) -> (SsmModel, dict):
    ckpt = torch.load(path, map_location="cpu")
    model = SsmModel(ckpt["architecture"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


def report(model, count: int, eval_shard: str, train_shard: str):
    from enhance.data import heldout_clips, resample_whole
    from enhance.metrics import si_sdr, stoi
    from enhance.speexdsp_baseline import speexdsp_denoise
    from speech.shard import read_shard
    babble = [resample_whole(torch.from_numpy(u["audio"]).float(), int(u["sample_rate"]))
              for u in read_shard(train_shard)[:32]]
    kinds = ["tones", "clicks", "pink", "babble", "fan"]
    clips = heldout_clips(eval_shard, count, kinds, babble_speech=babble)
    rows = []
    for noisy, clean, kind, snr in clips:
        with torch.no_grad():
            out = enhance(model, noisy).numpy().astype(np.float64)
        out = out[LATENCY:]                      # undo the 10 ms algorithmic delay
        ref = clean.numpy().astype(np.float64)[:out.shape[0]]
        noisy_np = noisy.numpy().astype(np.float64)
        speex = speexdsp_denoise(noisy_np, SAMPLE_RATE, suppress_db=-15).astype(np.float64)
        trim = slice(0, out.shape[0])
        row = {"kind": kind, "snr": snr,
               "noisy_sisdr": si_sdr(noisy_np[trim], ref), "model_sisdr": si_sdr(out, ref),
               "speex_sisdr": si_sdr(speex[trim], ref),
               "noisy_stoi": stoi(ref, noisy_np[trim], SAMPLE_RATE),
               "model_stoi": stoi(ref, out, SAMPLE_RATE),
               "speex_stoi": stoi(ref, speex[trim], SAMPLE_RATE)}
        rows.append(row)

    def summary(selected, label):
        if not selected:
            return
        mean = {k: float(np.mean([r[k] for r in selected])) for k in selected[0] if k != "kind"}
        print(f"{label:>16} n={len(selected):2d}  SI-SDRi model {mean['model_sisdr'] - mean['noisy_sisdr']:+6.2f}"
              f"  speex {mean['speex_sisdr'] - mean['noisy_sisdr']:+6.2f} dB"
              f"  (noisy SI-SDR {mean['noisy_sisdr']:5.2f})  STOI noisy {mean['noisy_stoi']:.3f}"
              f"  model {mean['model_stoi']:.3f}  speex {mean['speex_stoi']:.3f}")
    summary(rows, "all")
    for kind in kinds:
        summary([r for r in rows if r["kind"] == kind], kind)
    return rows


def main():
    root = os.path.dirname(os.path.dirname(_TRAIN_DIR))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=os.path.join(root, "build/enhance/checkpoint.pt"))
    parser.add_argument("--out", default=os.path.join(root, "data/models/enhancer.safetensors"))
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--report", type=int, default=0)
    parser.add_argument("--eval-shard", default=os.path.join(root, "build/speech/eval_000.ssc"))
    parser.add_argument("--train-shard", default=os.path.join(root, "build/speech/train_000.ssc"))
    args = parser.parse_args()

    model, ckpt = load_checkpoint(args.checkpoint)
    if args.report:
        report(model, args.report, args.eval_shard, args.train_shard)
    if args.no_export:
        return
    train_args = ckpt.get("args", {})
    recipe = {"name": "enhancer-mamba2-erb64", "script": "models/train/enhance/train.py",
              "recipe": "models/train/enhance/RECIPE.md", "seed": train_args.get("seed"),
              "steps": ckpt["step"], "batch": train_args.get("batch"),
              "lr": train_args.get("lr"), "latency_samples": LATENCY}
    size = export_model(model, args.out, task="enhance", frontend=FRONTEND,
                        recipe=recipe)
    if size > MAX_BYTES:
        os.remove(args.out)
        raise SystemExit(f"{args.out}: {size} bytes is over the {MAX_BYTES}-byte limit; removed")
    print(f"wrote {args.out}: {size} bytes, step {ckpt['step']}")


if __name__ == "__main__":
    main()
