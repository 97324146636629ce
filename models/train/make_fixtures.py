#!/usr/bin/env python3
"""Writes the golden fixtures in data/fixtures/ that prove the C++ engine computes what the
PyTorch reference computes.

For a small Mamba-2 model with random weights (seeded), the reference runs in float64, step by
step, on random inputs from a random initial state, for sequence lengths 1, 257 and 4096. Each
fixture file holds the inputs, the initial state, the expected outputs and the final state.
Weights and inputs are rounded to float32 first (what the engine reads), then upcast, so the
only difference left to the C++ is its own float32 arithmetic.

    /usr/bin/python3 models/train/make_fixtures.py [--out-dir data/fixtures] [--check]

--check regenerates everything in memory and compares with the files on disk (the test that
the committed fixtures are what the reference produces) instead of writing.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import export_model  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from ssm_model import SsmModel  # noqa: E402

SEED = 20261122
LENGTHS = (1, 257, 4096)
# Odd sizes on purpose: two groups, input and output widths that match nothing else, and
# d_state 24 so the SIMD scan runs both its 16-wide body and its scalar tail.
MAMBA2_ARCHITECTURE = {
    "input_dim": 6, "d_model": 16, "output_dim": 5, "norm_eps": 1e-5,
    "layers": [{"type": "mamba2", "d_state": 24, "head_dim": 8, "expand": 2, "d_conv": 4,
                "n_groups": 2},
               {"type": "mamba2", "d_state": 12, "head_dim": 4, "expand": 1, "d_conv": 3,
                "n_groups": 1}],
}
# Every block type in one stack (the hybrid a user would build): Mamba-3 SISO with two groups,
# Mamba-3 MIMO of rank 3, Mamba-1, a window of 7 that the 257- and 4096-step runs wrap many
# times, and Mamba-2. State sizes are again not multiples of the SIMD widths.
MIXED_ARCHITECTURE = {
    "input_dim": 6, "d_model": 16, "output_dim": 5, "norm_eps": 1e-5,
    "layers": [{"type": "mamba3", "d_state": 20, "head_dim": 8, "expand": 2, "n_groups": 2,
                "mimo_rank": 0},
               {"type": "mamba3", "d_state": 10, "head_dim": 4, "expand": 1, "n_groups": 1,
                "mimo_rank": 3},
               {"type": "mamba1", "d_state": 12, "expand": 2, "d_conv": 4, "dt_rank": 3},
               {"type": "attention", "n_heads": 2, "head_dim": 8, "window": 7},
               {"type": "mamba2", "d_state": 8, "head_dim": 8, "expand": 2, "d_conv": 4,
                "n_groups": 1}],
}
FIXTURES = {"mamba2_fixture": MAMBA2_ARCHITECTURE, "mixed_fixture": MIXED_ARCHITECTURE}
FRONTEND = {"type": "none"}


def round_to_f32(t: torch.Tensor) -> torch.Tensor:
    return t.float().double()


def build_model(architecture) -> SsmModel:
    generator = torch.Generator().manual_seed(SEED)
    model = SsmModel(architecture).double()
    model.reset_parameters(generator)
    with torch.no_grad():
        for t in model.named_tensors().values():
            t.copy_(round_to_f32(t))
    return model


def random_state(kind: str, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A state a running stream could hold: random, except where a kind has a valid range."""
    if kind == "angle":
        return round_to_f32(torch.rand(like.shape, generator=generator, dtype=torch.float64)
                            * 2 * math.pi)
    if kind in ("cursor", "angle_residual"):  # cursor: set by the caller, who knows the window
        return like.clone()
    return round_to_f32(0.5 * torch.randn(like.shape, generator=generator, dtype=torch.float64))


def fixture_tensors(model: SsmModel, length: int):
    generator = torch.Generator().manual_seed(SEED + length)
    x = round_to_f32(torch.randn(length, model.architecture["input_dim"], generator=generator,
                                 dtype=torch.float64))
    state = []
    for block, layer in zip(model.blocks, model.initial_state(torch.float64)):
        state.append({k: random_state(k, v, generator) for k, v in layer.items()})
        if "cursor" in state[-1]:  # a full ring whose next write is in the middle
            state[-1]["cursor"] = torch.tensor([3.0, float(block.cfg.window)], dtype=torch.float64)
    tensors = [("input", list(x.shape), x.reshape(-1).tolist())]
    for i, layer in enumerate(state):
        for kind, value in layer.items():
            tensors.append((f"initial.layers.{i}.{kind}", list(value.shape),
                            value.reshape(-1).tolist()))
    with torch.no_grad():
        outputs = []
        current = state
        for t in range(length):
            y, current = model.step(x[t], current)
            outputs.append(y)
        y = torch.stack(outputs)
        # The chunked forward must agree with the step-by-step recurrence before anything is
        # written: a fixture from a reference that disagrees with itself proves nothing.
        y_chunked, state_chunked = model(x, state, chunk=64)
        scale = y.abs().max().item()
        gap = (y_chunked - y).abs().max().item()
        assert gap <= 1e-12 * max(scale, 1.0), f"chunked forward differs by {gap} (T={length})"
    tensors.append(("output", list(y.shape), y.reshape(-1).tolist()))
    for i, layer in enumerate(current):
        for kind, value in layer.items():
            tensors.append((f"final.layers.{i}.{kind}", list(value.shape),
                            value.reshape(-1).tolist()))
    return tensors


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.join(root, "data", "fixtures"))
    parser.add_argument("--check", action="store_true",
                        help="compare with the files on disk instead of writing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    failures = checked = 0
    for name, architecture in FIXTURES.items():
        model = build_model(architecture)
        metadata = {"fixture": json.dumps({"model": f"{name}.safetensors", "seed": SEED,
                                           "script": "models/train/make_fixtures.py"})}
        for length in LENGTHS:
            path = os.path.join(args.out_dir, f"{name}.T{length}.safetensors")
            tensors = fixture_tensors(model, length)
            checked += 1
            if args.check:
                failures += compare_with_disk(path, tensors)
            else:
                size = write_safetensors(path, tensors, metadata, dtype="F64")
                print(f"wrote {path}: {size} bytes")
        model_path = os.path.join(args.out_dir, f"{name}.safetensors")
        checked += 1
        if args.check:
            _, weights = read_safetensors(model_path)
            for tensor_name, t in model.named_tensors().items():
                if weights[tensor_name][1] != t.reshape(-1).tolist():
                    print(f"MISMATCH {model_path}: {tensor_name}")
                    failures += 1
            print(f"checked {model_path}")
        else:
            export_model(model, model_path, task="test", frontend=FRONTEND,
                         recipe={"name": name.replace("_", "-"),
                                 "script": "models/train/make_fixtures.py", "seed": SEED})
            print(f"wrote {model_path}")
    if args.check:
        print(f"{checked - min(failures, checked)} passed, {failures} failed")
        sys.exit(1 if failures else 0)


def compare_with_disk(path, tensors) -> int:
    failures = 0
    _, on_disk = read_safetensors(path)
    for name, shape, values in tensors:
        if name not in on_disk:
            print(f"MISSING {path}: {name}")
            failures += 1
            continue
        disk_shape, disk_values = on_disk[name]
        worst = max((abs(a - b) for a, b in zip(values, disk_values)), default=0.0)
        if disk_shape != shape or worst > 1e-12 * max(1.0, max(map(abs, values))):
            print(f"MISMATCH {path}: {name} (max |delta| {worst})")
            failures += 1
    print(f"checked {path}: {len(tensors)} tensors")
    return failures


if __name__ == "__main__":
    main()
