#!/usr/bin/env python3
"""Train the speech enhancer (see RECIPE.md).

    python3 -m models.train.enhance.train --shards 'build/speech/train_*.ssc' \
        --minutes 8 --batch 32 --seed 1 --out build/enhance --device cuda

Stops at --steps or --minutes, whichever comes first. The learning rate warms up over the first
WARMUP steps and then follows a cosine over the run's progress (the larger of step / steps and
elapsed / minutes), so a run cut by wall time still ends annealed. Writes DIR/checkpoint.pt
(model, optimizer, step, architecture; every --save-minutes and at the end) and DIR/log.json.
Works with torch 1.13 (CPU) and 2.x (CUDA).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from enhance.data import BatchMaker, load_utterances  # noqa: E402
from enhance.model import (ARCHITECTURE, FRONTEND, build_model, delay, enhance,  # noqa: E402
                           enhancement_loss, parameter_count, si_sdr_db)

WARMUP = 200
MIN_LR_FRACTION = 0.05


def learning_rate(base: float, step: int, progress: float) -> float:
    warm = min(1.0, (step + 1) / WARMUP)
    cosine = MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return base * warm * cosine


def save_checkpoint(path, model, optimizer, step, args, history):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "architecture": model.architecture, "frontend": FRONTEND,
                "args": vars(args), "history": history}, tmp)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="build/speech/train_*.ssc")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=1e9)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", default="build/enhance")
    parser.add_argument("--resume", default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-minutes", type=float, default=3.0)
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(args.seed)

    start = time.time()
    utterances = load_utterances(args.shards)
    seconds = sum(a.shape[0] / r for a, r in utterances)
    print(f"{len(utterances)} utterances, {seconds / 60:.1f} min of speech "
          f"({time.time() - start:.1f} s to load)", flush=True)

    model = build_model(ARCHITECTURE, seed=args.seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99),
                                  weight_decay=1e-4)
    step, history = 0, []
    if args.resume:
        ckpt = torch.load(args.resume, map_location=device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, history = ckpt["step"], ckpt.get("history", [])
        print(f"resumed from {args.resume} at step {step}", flush=True)
    print(f"model: {parameter_count(model)} parameters on {device}", flush=True)

    # Different data stream for a resumed run, still seeded.
    batches = BatchMaker(utterances, device, seed=args.seed * 1000003 + step)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    log_path = os.path.join(args.out, "log.json")
    first_step = step
    train_start = time.time()
    last_save = train_start
    sums = {"loss": 0.0, "spectral": 0.0, "si_sdr": 0.0, "noisy_si_sdr": 0.0, "n": 0}
    data_time = 0.0
    while True:
        elapsed = time.time() - train_start
        done = step - first_step
        if done >= args.steps or elapsed >= args.minutes * 60:
            break
        progress = max(done / args.steps, elapsed / (args.minutes * 60))
        lr = learning_rate(args.lr, step, progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        t0 = time.time()
        noisy, target = batches.batch(args.batch)
        data_time += time.time() - t0
        reference = delay(target)
        estimate = enhance(model, noisy)
        loss, spectral, sisdr = enhancement_loss(estimate, reference)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        with torch.no_grad():
            noisy_sisdr = si_sdr_db(delay(noisy), reference).mean()
        sums["loss"] += float(loss.detach())
        sums["spectral"] += float(spectral.detach())
        sums["si_sdr"] += float(sisdr.detach())
        sums["noisy_si_sdr"] += float(noisy_sisdr)
        sums["n"] += 1
        if step % args.log_every == 0 or done == 0 or done + 1 >= args.steps:
            n = sums.pop("n")
            entry = {k: v / n for k, v in sums.items()}
            entry.update({"step": step, "lr": lr, "grad_norm": float(grad_norm),
                          "minutes": (time.time() - train_start) / 60,
                          "data_fraction": data_time / max(1e-9, time.time() - train_start)})
            entry["si_sdr_improvement"] = entry["si_sdr"] - entry["noisy_si_sdr"]
            history.append(entry)
            print(f"step {step:6d}  loss {entry['loss']:.4f}  spec {entry['spectral']:.4f}  "
                  f"si-sdr {entry['si_sdr']:6.2f} dB (noisy {entry['noisy_si_sdr']:6.2f}, "
                  f"+{entry['si_sdr_improvement']:.2f})  lr {lr:.2e}  "
                  f"{entry['minutes']:.2f} min  data {entry['data_fraction']:.0%}", flush=True)
            sums = {"loss": 0.0, "spectral": 0.0, "si_sdr": 0.0, "noisy_si_sdr": 0.0, "n": 0}
        if time.time() - last_save >= args.save_minutes * 60:
            save_checkpoint(ckpt_path, model, optimizer, step, args, history)
            last_save = time.time()

    save_checkpoint(ckpt_path, model, optimizer, step, args, history)
    summary = {"steps": step, "steps_this_run": step - first_step,
               "minutes": (time.time() - train_start) / 60, "batch": args.batch,
               "seed": args.seed, "lr": args.lr, "device": str(device),
               "torch": torch.__version__, "parameters": parameter_count(model),
               "architecture": ARCHITECTURE, "frontend": FRONTEND, "history": history}
    with open(log_path, "w") as handle:
        json.dump(summary, handle, indent=1)
    print(f"saved {ckpt_path} ({os.path.getsize(ckpt_path)} bytes) and {log_path}; "
          f"{step} steps", flush=True)


if __name__ == "__main__":
    main()
