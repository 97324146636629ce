#!/usr/bin/env python3
"""Writes the enhancer's golden fixture: what models/train/enhance/model.py's enhance() computes,
in float64, for a small enhancer with seeded random weights, so the C++ EnhancerStage can be held
to the exact chain the recipe trains (STFT, ERB log energies, model, sigmoid, gains on the bins,
inverse STFT with its N - H delay).

    /usr/bin/python3 models/train/enhance/make_enhancer_fixture.py [--out-dir data/fixtures] [--check]

Files: enhancer_fixture.safetensors (the model, a normal model file with task "enhance") and
enhancer_fixture.io.safetensors (F64: "input" and "output" audio, stream-aligned, and "gains",
the band gains per hop). The model is random rather than the shipped one so that retraining
does not invalidate the fixture; the shipped model is held to its scores by check_slice.py.
--check regenerates everything in memory and compares it with the files on disk.
"""
import argparse
import json
import math
import os
import sys

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))
_TRAIN = os.path.dirname(_HERE)
sys.path.insert(0, _TRAIN)
sys.path.insert(0, os.path.dirname(os.path.dirname(_TRAIN)))
from export import export_model  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from ssm_model import SsmModel  # noqa: E402

from models.train.enhance import model as enhancer  # noqa: E402

SEED = 20261123
HOPS = 40
# Small on purpose (the fixture is about the chain, not the network): two Mamba-2 layers.
ARCHITECTURE = {
    "input_dim": enhancer.N_BANDS, "d_model": 16, "output_dim": enhancer.N_BANDS,
    "norm_eps": 1e-5,
    "layers": [{"type": "mamba2", "d_state": 8, "head_dim": 8, "expand": 2, "d_conv": 4,
                "n_groups": 1} for _ in range(2)],
}
TOLERANCE = 1e-12   # committed vs regenerated, relative to max(1, max |value|)


def build_fixture_model() -> SsmModel:
    torch.manual_seed(SEED)
    model = SsmModel(dict(ARCHITECTURE))
    with torch.no_grad():
        # Spread the gains over (0, 1): a head that maps the features well away from sigmoid's
        # flat ends would make a wrong band or a wrong log easy to miss.
        model.head.weight.mul_(0.5)
        model.head.bias.uniform_(-2.0, 2.0)
    # float32 weights upcast: exactly what the engine reads from the file, in float64.
    return model.double()


def fixture_input() -> torch.Tensor:
    """0.4 s at 48 kHz: a voiced-like harmonic tone with a syllable envelope, plus noise."""
    generator = torch.Generator().manual_seed(SEED)
    n = HOPS * enhancer.HOP
    t = torch.arange(n, dtype=torch.float64) / enhancer.SAMPLE_RATE
    f0 = 140.0 + 30.0 * torch.sin(2 * math.pi * 3.0 * t)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / enhancer.SAMPLE_RATE
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 30))
    envelope = 0.5 * (1 - torch.cos(2 * math.pi * 4.0 * t)).clamp(min=0.05)
    noise = torch.randn(n, generator=generator, dtype=torch.float64)
    x = 0.1 * envelope * voiced + 0.02 * noise
    return x.float().double()


def fixture_tensors(model: SsmModel):
    x = fixture_input()
    with torch.no_grad():
        y, gains = enhancer.enhance(model, x, return_gains=True)
    return [("input", [x.numel()], x.tolist()),
            ("output", [y.numel()], y.tolist()),
            ("gains", list(gains.shape), gains.reshape(-1).tolist())]


def compare_with_disk(path: str, tensors) -> int:
    _, on_disk = read_safetensors(path)
    failures = 0
    for name, shape, values in tensors:
        disk_shape, disk_values = on_disk[name]
        scale = max(1.0, max(abs(v) for v in values))
        worst = max(abs(a - b) for a, b in zip(values, disk_values)) / scale
        if disk_shape != shape or worst > TOLERANCE:
            print(f"MISMATCH {path}: {name} (shape {disk_shape} vs {shape}, error {worst:.3g})")
            failures += 1
    print(f"checked {path}")
    return failures


def main():
    root = os.path.dirname(os.path.dirname(_TRAIN))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.join(root, "data", "fixtures"))
    parser.add_argument("--check", action="store_true",
                        help="compare with the files on disk instead of writing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = build_fixture_model()
    model_path = os.path.join(args.out_dir, "enhancer_fixture.safetensors")
    io_path = os.path.join(args.out_dir, "enhancer_fixture.io.safetensors")
    tensors = fixture_tensors(model)
    if not args.check:
        export_model(model, model_path, task="enhance", frontend=enhancer.FRONTEND,
                     recipe={"name": "enhancer-fixture",
                             "script": "models/train/enhance/make_enhancer_fixture.py",
                             "seed": SEED})
        metadata = {"fixture": json.dumps({"model": "enhancer_fixture.safetensors", "seed": SEED,
                                           "script": "models/train/enhance/make_enhancer_fixture.py"})}
        size = write_safetensors(io_path, tensors, metadata, dtype="F64")
        print(f"wrote {model_path} and {io_path} ({size} bytes)")
        return
    failures = compare_with_disk(io_path, tensors)
    _, weights = read_safetensors(model_path)
    for name, t in model.named_tensors().items():
        if weights[name][1] != t.float().reshape(-1).tolist():
            print(f"MISMATCH {model_path}: {name}")
            failures += 1
    print(f"checked {model_path}")
    print(f"{2 - min(failures, 2)} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
