#!/usr/bin/env python3
"""Writes data/models/tiny_mamba2.safetensors: a two-layer Mamba-2 model with random weights
(about 6 kB) that tests, fuzz seeds and `statestream info` use. It scores nothing; it proves
the file format, the loader and the CLI. Standard library only, deterministic for a seed.

    python3 models/train/make_tiny_model.py [--out PATH] [--seed N]
"""
import argparse
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import source_commit  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from tensor_schema import expected_tensors  # noqa: E402

ARCHITECTURE = {
    "input_dim": 8, "d_model": 8, "output_dim": 4, "norm_eps": 1e-5,
    "layers": [{"type": "mamba2", "d_state": 4, "head_dim": 4, "expand": 2, "d_conv": 4,
                "n_groups": 1}] * 2,
}
FRONTEND = {"type": "log_mel", "sample_rate_hz": 16000, "window_samples": 400,
            "hop_samples": 160, "n_bands": 8}


def initial_values(name, shape, rng):
    count = math.prod(shape)
    if name.endswith("A_log"):  # decay rates A = -exp(A_log) in [1, 16], as in Mamba-2's init
        return [math.log(rng.uniform(1.0, 16.0)) for _ in range(count)]
    if name.endswith("dt_bias"):  # softplus(dt_bias) = dt in [1e-3, 1e-1], log-uniform
        dts = [math.exp(rng.uniform(math.log(1e-3), math.log(1e-1))) for _ in range(count)]
        return [dt + math.log(-math.expm1(-dt)) for dt in dts]
    if name.endswith(".D") or name.endswith("norm.weight") or name == "norm_f.weight":
        return [1.0 + rng.gauss(0.0, 0.1) for _ in range(count)]
    fan_in = shape[-1] if len(shape) > 1 else 1
    scale = 1.0 / math.sqrt(fan_in)
    return [rng.gauss(0.0, scale) for _ in range(count)]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, "data/models/tiny_mamba2.safetensors"))
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    tensors = [(name, shape, initial_values(name, shape, rng))
               for name, shape in expected_tensors(ARCHITECTURE)]
    metadata = {
        "format_version": "1",
        "task": "test",
        "frontend": json.dumps(FRONTEND),
        "architecture": json.dumps(ARCHITECTURE),
        "recipe": json.dumps({"name": "tiny-random", "script": "models/train/make_tiny_model.py",
                              "commit": source_commit(), "seed": args.seed}),
    }
    size = write_safetensors(args.out, tensors, metadata)
    params = sum(math.prod(shape) for _, shape, _ in tensors)
    print(f"wrote {args.out}: {len(tensors)} tensors, {params} parameters, {size} bytes")


if __name__ == "__main__":
    main()
