#!/usr/bin/env python3
"""Time the training data generation (and optionally one training step) per batch.

    python3 -m models.train.enhance.bench_data --shards 'build/speech/train_*.ssc' \
        --device cuda --batch 32 64 [--repeats 20] [--step] [--data-file OTHER_DATA.py]

Prints the median wall time of `BatchMaker.batch(B)` (the device synchronised before and
after, so queued GPU work is counted), after two warm-up batches. --step also times a whole
training step (forward, loss, backward, optimiser) on a fresh batch, without the data.
--data-file loads another version of data.py (to compare with an older one).
"""
import argparse
import importlib.util
import os
import statistics
import sys
import time

import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from enhance.model import ARCHITECTURE, build_model, delay, enhance, enhancement_loss  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _load_data_module(path):
    if path is None:
        import enhance.data as module
        return module
    spec = importlib.util.spec_from_file_location("enhance_data_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _median_seconds(function, device, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        function()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", default="build/speech/train_*.ssc")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[32])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--step", action="store_true")
    parser.add_argument("--data-file", default=None)
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    data = _load_data_module(args.data_file)
    utterances = data.load_utterances(args.shards)
    maker = data.BatchMaker(utterances, device, seed=7)
    model = build_model(ARCHITECTURE, seed=1).to(device) if args.step else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4) if args.step else None
    label = os.path.basename(args.data_file) if args.data_file else "data.py"
    for batch in args.batch:
        seconds = _median_seconds(lambda: maker.batch(batch), device, args.repeats)
        line = (f"{label}  device {device.type}  batch {batch:4d}  data {1000 * seconds:8.1f} ms"
                f"  ({batch / seconds:7.1f} clips/s)")
        if args.step:
            noisy, target = maker.batch(batch)

            def train_step():
                loss = enhancement_loss(enhance(model, noisy), delay(target))[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                float(loss.detach())

            step_seconds = _median_seconds(train_step, device, args.repeats)
            line += f"  step {1000 * step_seconds:7.1f} ms"
        print(line, flush=True)


if __name__ == "__main__":
    main()
