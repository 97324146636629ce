#!/usr/bin/env python3
"""The PyTorch reference's batched step and chunked forward on a CUDA device, for the same
models and batch sizes as bench_cuda_step (tests/models, docs/cuda.md), so the two tables can
be read side by side from one run on one GPU.

    python3 models/train/bench_reference_cuda.py [--batches 1 64 1024 16384] [--compile]

Mamba-2 models only: the reference's Mamba-2 block takes leading batch dimensions (B streams
stepped at once), the other blocks step one stream at a time and would measure Python, not the
GPU. For each model and B it prints GPU time per step from CUDA events around many steps run
back to back (eager; with --compile also torch.compile in its default mode, and in its
"reduce-overhead" mode, which replays CUDA graphs as bench_cuda_step does), the state bytes a step moves (each state float
read and written once) as a fraction of a device-to-device copy measured in the same run, and
the chunked forward's tokens per second (B streams x T tokens through forward(), chunk 64).
float32, no autograd.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ssm_model import SsmModel, load_model  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data")


def copy_bandwidth_gbs() -> float:
    """Device-to-device copy of 1 GiB, bytes read plus written, as bench_cuda_step measures it."""
    n = (1 << 30) // 4
    a = torch.empty(n, device="cuda")
    b = torch.empty(n, device="cuda")
    for _ in range(3):
        b.copy_(a)
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    reps = 20
    for _ in range(reps):
        b.copy_(a)
    stop.record()
    stop.synchronize()
    seconds = start.elapsed_time(stop) / 1e3 / reps
    del a, b
    return 2.0 * (1 << 30) / seconds / 1e9


def gpu_us(body, reps: int) -> float:
    for _ in range(3):
        body()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        body()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) * 1e3 / reps


def batched_state(model: SsmModel, streams: int):
    state = []
    for layer in model.initial_state(torch.float32, "cuda"):
        state.append({k: torch.randn(streams, *v.shape, device="cuda") * 0.1 for k, v in layer.items()})
    return state


def state_bytes(state) -> int:
    return sum(v.numel() * v.element_size() for layer in state for v in layer.values())


def bench(name: str, model: SsmModel, batches, compile_too: bool, copy_gbs: float, forward_tokens: int):
    model = model.float().cuda().eval()
    d_in = model.architecture["input_dim"]
    print(f"\n{name}: {len(model.blocks)} layers, d_model {model.architecture['d_model']}", flush=True)
    print(f"  {'B':>6} {'mode':>16} {'us/step':>10} {'state GB/s':>11} {'of copy':>8}", flush=True)
    rows = []
    for streams in batches:
        state = batched_state(model, streams)
        moved = 2 * state_bytes(state)
        x = torch.randn(streams, 1, d_in, device="cuda")
        modes = [("eager", model.forward, False)]
        if compile_too:
            torch._dynamo.reset()  # a fresh cache per model and B: no recompile limit, no stale graphs
            modes.append(("compile", torch.compile(model.forward, dynamic=False), False))
            modes.append(("compile+graphs", torch.compile(model.forward, mode="reduce-overhead", dynamic=False),
                          True))
        for mode, fn, graphs in modes:
            holder = {"state": state}

            def step():
                if graphs:
                    # CUDA-graph replays reuse their output buffers: the state a replay returns
                    # must be copied out before the next one overwrites it (a cost PyTorch's
                    # graphs pay and ours, which update the state in place, do not).
                    torch.compiler.cudagraph_mark_step_begin()
                    _, new_state = fn(x, holder["state"], naive=True)
                    holder["state"] = [{k: v.clone() for k, v in layer.items()} for layer in new_state]
                else:
                    _, holder["state"] = fn(x, holder["state"], naive=True)

            try:
                with torch.no_grad():
                    t0 = time.time()
                    step()
                    torch.cuda.synchronize()
                    first = time.time() - t0
                    probe = gpu_us(step, 3)
                    reps = max(10, min(2000, int(0.3e6 / max(probe, 1.0))))
                    us = gpu_us(step, reps)
            except Exception as error:  # an out-of-memory at large B is a result, not a crash
                print(f"  {streams:>6} {mode:>16} failed: {type(error).__name__}: {str(error)[:120]}", flush=True)
                torch.cuda.empty_cache()
                continue
            gbs = moved / (us * 1e-6) / 1e9
            print(f"  {streams:>6} {mode:>16} {us:>10.1f} {gbs:>11.1f} {gbs / copy_gbs:>8.3f}"
                  + (f"   (first call {first:.1f} s)" if mode != "eager" else ""), flush=True)
            rows.append((streams, mode, us, gbs / copy_gbs))
        del state
        torch.cuda.empty_cache()
    # Chunked forward: 64 streams x forward_tokens tokens, chunk 64 (the files' path).
    streams, T = 64, forward_tokens
    x = torch.randn(streams, T, d_in, device="cuda")
    with torch.no_grad():
        us = gpu_us(lambda: model.forward(x, batched_state(model, streams), chunk=64), 5)
    print(f"  chunked forward, {streams} streams x {T} tokens, chunk 64: {us / 1e3:.1f} ms, "
          f"{streams * T / (us * 1e-6) / 1e6:.2f} M tokens/s", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024, 16384])
    parser.add_argument("--compile", action="store_true", help="also torch.compile (reduce-overhead)")
    parser.add_argument("--forward-tokens", type=int, default=1024)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("SKIPPED: no CUDA device for PyTorch")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 products, as the engine's
    torch.backends.cudnn.allow_tf32 = False
    print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name()}")
    copy_gbs = copy_bandwidth_gbs()
    print(f"baseline: device-to-device copy of 1 GiB: {copy_gbs:.0f} GB/s (read + written)")
    models = []
    for name in ("transcriber", "enhancer", "forecaster"):
        model, _ = load_model(os.path.join(DATA, "models", f"{name}.safetensors"), dtype=torch.float32)
        models.append((name, model))
    wide = SsmModel({"input_dim": 16, "d_model": 768, "output_dim": 16, "norm_eps": 1e-5,
                     "layers": [{"type": "mamba2", "d_state": 128, "head_dim": 64, "expand": 2,
                                 "d_conv": 4, "n_groups": 1}]})
    wide.reset_parameters(torch.Generator().manual_seed(7))
    models.append(("mamba2 d768 N128 P64", wide))
    for name, model in models:
        bench(name, model, args.batches, args.compile, copy_gbs, args.forward_tokens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
