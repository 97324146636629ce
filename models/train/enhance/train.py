#!/usr/bin/env python3
"""Train the speech enhancer (see RECIPE.md).

    python3 -m models.train.enhance.train --shards 'build/speech/train_*.ssc' \
        --minutes 9 --total-minutes 18 --batch 64 --seed 1 --out build/enhance2 --device cuda

Stops at --steps or --minutes, whichever comes first. The learning rate warms up over the first
WARMUP steps and then follows a cosine over the training progress: the larger of step / steps
and trained minutes / --total-minutes, where trained minutes include those of the run resumed
from, so a schedule can span several runs and a run cut by wall time still ends annealed.
Every --val-every-th training utterance is set aside (training voices, unseen sentences) and
--val-clips fixed mixtures of them are scored at each save. Writes DIR/checkpoint.pt (model,
optimizer, step, architecture, histories; every --save-minutes and at the end) and
DIR/log.json. Works with torch 1.13 (CPU) and 2.x (CUDA).
"""
import argparse
import json
import os
import sys
import time

import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from training_schedule import sync, training_device, warmup_cosine_lr  # noqa: E402
from enhance.data import BatchMaker, load_utterances  # noqa: E402
from enhance.model import (ARCHITECTURE, FRONTEND, SISDR_WEIGHT, build_model, delay,  # noqa: E402
                           enhance, enhancement_loss, parameter_count, si_sdr_db)

WARMUP = 200
MIN_LR_FRACTION = 0.05
VALIDATION_SEED = 424242
VALIDATION_BATCH = 32


def learning_rate(base: float, step: int, progress: float) -> float:
    return warmup_cosine_lr(base, step, progress, WARMUP, MIN_LR_FRACTION)


def save_checkpoint(path, model, optimizer, step, args, history, train_minutes, validation):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "architecture": model.architecture, "frontend": FRONTEND,
                "args": vars(args), "history": history, "train_minutes": train_minutes,
                "validation": validation}, tmp)
    os.replace(tmp, path)


def split_validation(utterances, every: int):
    """(training, validation): every `every`-th utterance (in shard order) is set aside as a
    validation set of the training voices; every <= 0 sets nothing aside."""
    if every <= 0:
        return utterances, []
    train = [u for i, u in enumerate(utterances) if i % every]
    return train, [u for i, u in enumerate(utterances) if i % every == 0]


def validate(model, clips, sisdr_weight: float) -> dict:
    """Mean loss, SI-SDR and noisy SI-SDR over fixed validation batches [(noisy, target)]."""
    totals = {"loss": 0.0, "spectral": 0.0, "si_sdr": 0.0, "noisy_si_sdr": 0.0}
    rows = 0
    with torch.no_grad():
        for noisy, target in clips:
            reference = delay(target)
            loss, spectral, sisdr = enhancement_loss(enhance(model, noisy), reference,
                                                     sisdr_weight)
            n = noisy.shape[0]
            totals["loss"] += float(loss) * n
            totals["spectral"] += float(spectral) * n
            totals["si_sdr"] += float(sisdr) * n
            totals["noisy_si_sdr"] += float(si_sdr_db(delay(noisy), reference).mean()) * n
            rows += n
    out = {k: v / max(1, rows) for k, v in totals.items()}
    out["si_sdr_improvement"] = out["si_sdr"] - out["noisy_si_sdr"]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="build/speech/train_*.ssc")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--minutes", type=float, default=1e9,
                        help="wall-time limit of this run")
    parser.add_argument("--total-minutes", type=float, default=None,
                        help="the learning-rate schedule's length in training minutes over "
                             "this and earlier (resumed) runs; default: --minutes")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sisdr-weight", type=float, default=SISDR_WEIGHT)
    parser.add_argument("--out", default="build/enhance")
    parser.add_argument("--resume", default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-minutes", type=float, default=3.0)
    parser.add_argument("--val-every", type=int, default=20,
                        help="set every N-th training utterance aside for validation (0: none)")
    parser.add_argument("--val-clips", type=int, default=128)
    args = parser.parse_args(argv)
    total_minutes = args.total_minutes if args.total_minutes is not None else args.minutes

    os.makedirs(args.out, exist_ok=True)
    device = training_device(args.device, args.seed)

    start = time.time()
    utterances, held_aside = split_validation(load_utterances(args.shards), args.val_every)
    seconds = sum(a.shape[0] / r for a, r in utterances)
    print(f"{len(utterances)} utterances, {seconds / 60:.1f} min of speech for training, "
          f"{len(held_aside)} set aside for validation ({time.time() - start:.1f} s to load)",
          flush=True)

    step, history, validation, prior_minutes = 0, [], [], 0.0
    ckpt = torch.load(args.resume, map_location=device) if args.resume else None
    architecture = ckpt["architecture"] if ckpt else ARCHITECTURE
    model = build_model(architecture, seed=args.seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99),
                                  weight_decay=1e-4)
    if ckpt:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, history = ckpt["step"], ckpt.get("history", [])
        validation = ckpt.get("validation", [])
        prior_minutes = ckpt.get("train_minutes", 0.0)
        print(f"resumed from {args.resume} at step {step} ({prior_minutes:.2f} min trained)",
              flush=True)
    print(f"model: {parameter_count(model)} parameters on {device}", flush=True)

    # Different data stream for a resumed run, still seeded.
    batches = BatchMaker(utterances, device, seed=args.seed * 1000003 + step)
    val_clips = []
    if held_aside and args.val_clips > 0:
        maker = BatchMaker(held_aside, device, seed=VALIDATION_SEED)
        for first in range(0, args.val_clips, VALIDATION_BATCH):
            val_clips.append(maker.batch(min(VALIDATION_BATCH, args.val_clips - first)))
        del maker
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    log_path = os.path.join(args.out, "log.json")

    def run_validation():
        if not val_clips:
            return
        model.eval()
        entry = validate(model, val_clips, args.sisdr_weight)
        model.train()
        entry.update({"step": step, "minutes": prior_minutes + (time.time() - train_start) / 60})
        validation.append(entry)
        print(f"validation at step {step}: loss {entry['loss']:.4f}  spec {entry['spectral']:.4f}"
              f"  si-sdr {entry['si_sdr']:6.2f} dB (noisy {entry['noisy_si_sdr']:6.2f}, "
              f"+{entry['si_sdr_improvement']:.2f})", flush=True)

    first_step = step
    train_start = time.time()
    if first_step == 0:
        run_validation()
    train_start = time.time()
    last_save = train_start
    sums = {"loss": 0.0, "spectral": 0.0, "si_sdr": 0.0, "noisy_si_sdr": 0.0, "n": 0}
    data_time = 0.0
    while True:
        elapsed = time.time() - train_start
        done = step - first_step
        if done >= args.steps or elapsed >= args.minutes * 60:
            break
        progress = max(done / args.steps, (prior_minutes + elapsed / 60) / total_minutes)
        lr = learning_rate(args.lr, step, progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        sync(device)
        t0 = time.time()
        noisy, target = batches.batch(args.batch)
        sync(device)
        data_time += time.time() - t0
        reference = delay(target)
        estimate = enhance(model, noisy)
        loss, spectral, sisdr = enhancement_loss(estimate, reference, args.sisdr_weight)
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
            now = time.time() - train_start
            entry = {k: v / n for k, v in sums.items()}
            entry.update({"step": step, "lr": lr, "grad_norm": float(grad_norm),
                          "minutes": prior_minutes + now / 60,
                          "data_fraction": data_time / max(1e-9, now),
                          "data_ms_per_batch": 1000 * data_time / max(1, done + 1),
                          "steps_per_second": (done + 1) / max(1e-9, now)})
            entry["si_sdr_improvement"] = entry["si_sdr"] - entry["noisy_si_sdr"]
            history.append(entry)
            print(f"step {step:6d}  loss {entry['loss']:.4f}  spec {entry['spectral']:.4f}  "
                  f"si-sdr {entry['si_sdr']:6.2f} dB (noisy {entry['noisy_si_sdr']:6.2f}, "
                  f"+{entry['si_sdr_improvement']:.2f})  lr {lr:.2e}  "
                  f"{entry['minutes']:.2f} min  {entry['steps_per_second']:.2f} steps/s  "
                  f"data {entry['data_ms_per_batch']:.1f} ms ({entry['data_fraction']:.0%})",
                  flush=True)
            sums = {"loss": 0.0, "spectral": 0.0, "si_sdr": 0.0, "noisy_si_sdr": 0.0, "n": 0}
        if time.time() - last_save >= args.save_minutes * 60:
            run_validation()
            save_checkpoint(ckpt_path, model, optimizer, step, args, history,
                            prior_minutes + (time.time() - train_start) / 60, validation)
            last_save = time.time()

    run_minutes = (time.time() - train_start) / 60
    run_validation()
    save_checkpoint(ckpt_path, model, optimizer, step, args, history,
                    prior_minutes + run_minutes, validation)
    summary = {"steps": step, "steps_this_run": step - first_step,
               "minutes": run_minutes, "train_minutes": prior_minutes + run_minutes,
               "total_minutes": total_minutes, "batch": args.batch,
               "seed": args.seed, "lr": args.lr, "sisdr_weight": args.sisdr_weight,
               "data_ms_per_batch": 1000 * data_time / max(1, step - first_step),
               "steps_per_second": (step - first_step) / max(1e-9, run_minutes * 60),
               "device": str(device), "torch": torch.__version__,
               "parameters": parameter_count(model), "architecture": model.architecture,
               "frontend": FRONTEND, "history": history, "validation": validation}
    with open(log_path, "w") as handle:
        json.dump(summary, handle, indent=1)
    print(f"saved {ckpt_path} ({os.path.getsize(ckpt_path)} bytes) and {log_path}; "
          f"{step} steps", flush=True)


if __name__ == "__main__":
    main()
