#!/usr/bin/env python3
"""Train the stream forecaster (docs/forecast.md): the reference SsmModel on ticks-v1 features,
its 72 outputs read through the quantile head, mean pinball loss over q10/q50/q90 and
horizons 1..24.

    /usr/bin/python3 models/train/forecast/train.py --minutes 3 --device cpu --out build/forecast
    python3 models/train/forecast/train.py --steps 20000 --batch 256 --workers 8 \\
        --device cuda --out build/forecast            # PyTorch 2.x on a GPU machine

Data (dataset.py): random crops of the 35 real training series (never a held-out one) and of
seeded synthetic series (seeds from --synthetic-seed, 1000 by default; backtest.py scores seed
1), features exactly as the engine computes them. Batch i is drawn from its own generator
(seed, i), so the data do not depend on --workers, and with --steps a run is the same on every
rerun of a device (weights start from --seed; the learning rate follows the step count). With
--minutes alone the schedule follows the clock, which is not repeatable.

Adam, a linear warm-up over --warmup steps, then a cosine to 5 % of --lr over the run (the
larger of step / --steps and minutes / --minutes). Validation: fixed crops of the training
series (seed VALIDATION_SEED, "real") and of fresh synthetic series (seed VALIDATION_SYNTHETIC_SEED,
"synthetic"), scored at the start, every --val-every steps and at the end: pinball loss, the
same for forecasting every quantile at the anchor ("naive": seasonal naive / last value), and
the share of targets inside q10..q90.

--exclude-fold I/K leaves fold I of dataset.cv_folds(K) out (cross-validation, RECIPE.md);
--spec-version 3 trains on the ticks-v2 features (forecaster.FORECAST_SPEC_V3: ticks-v1 plus a
damped local trend), which the reference runs and the C++ engine does not.

Writes to --out: checkpoint.pt (weights, Adam state, spec, histories) and log.json. Works with
torch 1.13 (Debian, CPU) and 2.x (CUDA).
"""
import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from training_schedule import sync, training_device, warmup_cosine_lr  # noqa: E402
from ssm_model import SsmModel  # noqa: E402
from forecast.dataset import (CROP_TICKS, DEV_DATASETS, MIN_SYNTHETIC_SEED, Pool, cv_folds,  # noqa: E402
                              load_pool, make_batch, naive_pinball, summarise,
                              synthetic_training_series)
from forecast.forecaster import (ARCHITECTURE, FORECAST_SPEC, architecture_for,  # noqa: E402
                                 pinball_loss, quantile_head, spec_of_version)

MIN_LR_FRACTION = 0.05
GRAD_CLIP = 1.0
VALIDATION_SEED = 424242
VALIDATION_SYNTHETIC_SEED = 2000   # a pool of its own, disjoint from training's seeds
# The initial head: the median at the anchor and the interval at the Gaussian +-1.28 sigma',
# so the first steps start from a calibrated naive forecast instead of random quantiles.
Z90 = 1.2815515655446004


def architecture_of(d_model: int, layers: int, spec: Dict = FORECAST_SPEC) -> Dict:
    """ARCHITECTURE with another width or depth (development runs compare sizes) and the
    spec's input width."""
    architecture = architecture_for(spec)
    architecture["d_model"] = d_model
    architecture["layers"] = [dict(ARCHITECTURE["layers"][0]) for _ in range(layers)]
    return architecture


def build_model(seed: int, architecture: Optional[Dict] = None) -> SsmModel:
    torch.manual_seed(seed)
    model = SsmModel(dict(architecture or ARCHITECTURE))
    with torch.no_grad():
        model.head.weight.mul_(0.1)
        bias = model.head.bias.view(-1, 3)
        bias[:, 0] = 0.0
        bias[:, 1:] = math.log(math.expm1(Z90))   # softplus(bias) = 1.28
    return model


def load_checkpoint(path: str, device="cpu") -> dict:
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except TypeError:          # torch 1.13 has no weights_only
        return torch.load(path, map_location=device)


def to_tensors(batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
    return {"x": torch.from_numpy(batch["x"]), "target": torch.from_numpy(batch["target"]),
            "mask": torch.from_numpy(batch["mask"])}


class Batches(torch.utils.data.Dataset):
    """Batch i of the run, from its own generator (seed, i): the same whichever worker makes it."""

    def __init__(self, pool: Pool, seed: int, batch: int, crop: int, spec: Dict = FORECAST_SPEC):
        self.pool, self.seed, self.batch, self.crop, self.spec = pool, seed, batch, crop, spec

    def __len__(self) -> int:
        return 2 ** 62

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, int(index)])
        return to_tensors(make_batch(self.pool, rng, self.batch, self.crop, self.spec))


def validation_sets(pool: Pool, crops: int, crop: int,
                    spec: Dict = FORECAST_SPEC) -> Dict[str, Dict[str, np.ndarray]]:
    real = Pool(pool.real, [])
    fresh = Pool([], synthetic_training_series(VALIDATION_SYNTHETIC_SEED, max(8, crops // 4)))
    return {"real": make_batch(real, np.random.default_rng(VALIDATION_SEED), crops, crop, spec),
            "synthetic": make_batch(fresh, np.random.default_rng(VALIDATION_SEED), crops, crop,
                                    spec)}


def validate(model: SsmModel, sets: Dict[str, Dict[str, np.ndarray]], device, chunk: int,
             batch: int) -> Dict[str, Dict[str, float]]:
    model.eval()
    out = {}
    with torch.no_grad():
        for name, data in sets.items():
            loss_sum = inside = count = 0.0
            for start in range(0, data["x"].shape[0], batch):
                part = to_tensors({k: data[k][start:start + batch]
                                   for k in ("x", "target", "mask")})
                x, target, mask = (part[k].to(device) for k in ("x", "target", "mask"))
                z = quantile_head(model(x, chunk=chunk)[0]).float()
                n = float(mask.sum())
                loss_sum += float(pinball_loss(z, target, mask)) * n
                hit = (target >= z[..., 0]) & (target <= z[..., 2]) & mask
                inside += float(hit.sum())
                count += n
            out[name] = {"pinball": loss_sum / max(count, 1.0), "naive": naive_pinball(data),
                         "coverage80": inside / max(count, 1.0), "targets": int(count)}
    model.train()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help="optimiser steps; sets the schedule (repeatable runs)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training time; the schedule's length when --steps is not given")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="build/forecast")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--crop", type=int, default=CROP_TICKS, help="ticks per crop at most")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--synthetic-count", type=int, default=600)
    parser.add_argument("--synthetic-seed", type=int, default=MIN_SYNTHETIC_SEED)
    parser.add_argument("--val-crops", type=int, default=128)
    parser.add_argument("--val-every", type=int, default=500)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-minutes", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=0,
                        help="DataLoader workers making batches (0: in this process)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--chunk", type=int, default=64, help="SSD scan chunk (ticks)")
    parser.add_argument("--d-model", type=int, default=ARCHITECTURE["d_model"])
    parser.add_argument("--layers", type=int, default=len(ARCHITECTURE["layers"]))
    parser.add_argument("--dev", action="store_true",
                        help="leave dataset.DEV_DATASETS out of training (development runs)")
    parser.add_argument("--exclude-fold", metavar="I/K",
                        help="leave fold I (0..K-1) of dataset.cv_folds(K) out of training "
                             "(cross-validation runs)")
    parser.add_argument("--spec-version", type=int, default=FORECAST_SPEC["version"],
                        help="forecast version: 2 (ticks-v1 features) or 3 (ticks-v2: plus "
                             "the damped local trend)")
    args = parser.parse_args(argv)
    spec = spec_of_version(args.spec_version)
    excluded = list(DEV_DATASETS) if args.dev else []
    if args.exclude_fold:
        try:
            fold, folds = (int(part) for part in args.exclude_fold.split("/"))
            excluded += cv_folds(folds)[fold]
        except (ValueError, IndexError):
            parser.error(f"--exclude-fold {args.exclude_fold!r}: expected I/K with 0 <= I < K, "
                         "e.g. 0/3")
    if args.steps is None and args.minutes is None:
        parser.error("give --steps, --minutes or both")
    steps = args.steps if args.steps is not None else 2 ** 62
    minutes = args.minutes if args.minutes is not None else math.inf
    if args.threads:
        torch.set_num_threads(args.threads)

    os.makedirs(args.out, exist_ok=True)
    device = training_device(args.device, args.seed)
    started = time.time()
    pool = load_pool(args.synthetic_seed, args.synthetic_count, exclude_datasets=excluded)
    if excluded:
        print(f"left out of training: {', '.join(excluded)}", flush=True)
    sets = validation_sets(pool, args.val_crops, args.crop, spec)
    print(f"{summarise(pool)}; validation {args.val_crops} crops each of real training series "
          f"and fresh synthetic ones ({time.time() - started:.1f} s)", flush=True)
    model = build_model(args.seed, architecture_of(args.d_model, args.layers, spec)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"model: {parameters} parameters on {device}", flush=True)

    loader = torch.utils.data.DataLoader(
        Batches(pool, args.seed, args.batch, args.crop, spec), batch_size=None,
        sampler=range(0, 2 ** 62), num_workers=args.workers,
        pin_memory=device.type == "cuda", persistent_workers=args.workers > 0)
    batches = iter(loader)
    history: List[Dict] = []
    validation: List[Dict] = []
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    log_path = os.path.join(args.out, "log.json")

    def run_validation(step: int, elapsed: float):
        entry = {"step": step, "minutes": elapsed / 60}
        entry.update(validate(model, sets, device, args.chunk, args.batch))
        validation.append(entry)
        print(f"validation at step {step}: " + "  ".join(
            f"{name} pinball {v['pinball']:.4f} (naive {v['naive']:.4f}) cov80 "
            f"{v['coverage80']:.2f}" for name, v in entry.items() if isinstance(v, dict)),
            flush=True)

    def save(step: int, elapsed: float):
        state = {"architecture": model.architecture, "spec": spec,
                 "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                 "optimizer": optimizer.state_dict(), "step": step, "args": vars(args),
                 "train_minutes": elapsed / 60, "history": history, "validation": validation,
                 "sources": summarise(pool)}
        torch.save(state, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    run_validation(0, 0.0)
    train_start = time.time()
    last_save = train_start
    step = 0
    sums = {"loss": 0.0, "n": 0, "data": 0.0}
    while True:
        elapsed = time.time() - train_start
        if step >= steps or elapsed >= minutes * 60:
            break
        progress = max(step / steps, elapsed / (minutes * 60))
        lr = warmup_cosine_lr(args.lr, step, progress, args.warmup, MIN_LR_FRACTION)
        for group in optimizer.param_groups:
            group["lr"] = lr
        t0 = time.time()
        batch = next(batches)
        x, target, mask = (batch[k].to(device, non_blocking=True)
                           for k in ("x", "target", "mask"))
        sync(device)
        sums["data"] += time.time() - t0
        z = quantile_head(model(x, chunk=args.chunk)[0])
        loss = pinball_loss(z, target, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        step += 1
        value = float(loss.detach())
        if not math.isfinite(value):
            raise SystemExit(f"step {step}: loss is {value}; stopping")
        sums["loss"] += value
        sums["n"] += 1
        if step % args.log_every == 0 or step == 1 or step == steps:
            now = time.time() - train_start
            entry = {"step": step, "loss": sums["loss"] / sums["n"], "lr": lr,
                     "grad_norm": float(grad_norm), "minutes": now / 60,
                     "steps_per_second": step / max(now, 1e-9),
                     "data_fraction": sums["data"] / max(now, 1e-9)}
            history.append(entry)
            print(f"step {step:6d}  loss {entry['loss']:.4f}  grad {entry['grad_norm']:.2f}  "
                  f"lr {lr:.2e}  {entry['minutes']:.2f} min  {entry['steps_per_second']:.2f} "
                  f"steps/s  data {entry['data_fraction']:.0%}", flush=True)
            sums["loss"], sums["n"] = 0.0, 0
        if args.val_every and step % args.val_every == 0:
            run_validation(step, time.time() - train_start)
        if time.time() - last_save >= args.save_minutes * 60:
            save(step, time.time() - train_start)
            last_save = time.time()

    elapsed = time.time() - train_start
    if not validation or validation[-1]["step"] != step:
        run_validation(step, elapsed)
    save(step, elapsed)
    summary = {"steps": step, "minutes": elapsed / 60, "seed": args.seed, "batch": args.batch,
               "crop": args.crop, "lr": args.lr, "excluded": excluded, "warmup": args.warmup,
               "steps_per_second": step / max(elapsed, 1e-9), "device": str(device),
               "torch": torch.__version__, "parameters": parameters,
               "architecture": model.architecture, "spec": spec,
               "sources": summarise(pool), "args": vars(args), "history": history,
               "validation": validation}
    with open(log_path, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1)
    print(f"saved {ckpt_path} and {log_path}: {step} steps in {elapsed / 60:.2f} min "
          f"({time.time() - started:.0f} s since start)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
