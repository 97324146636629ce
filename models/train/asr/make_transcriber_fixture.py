#!/usr/bin/env python3
"""Writes the transcriber's golden fixture: what the reference computes for a small transcriber
with seeded random weights, so the C++ chain (log-mel front-end, model step, greedy CTC) can be
held to it.

    /usr/bin/python3 models/train/asr/make_transcriber_fixture.py [--out-dir data/fixtures] [--check]

Files: transcriber_fixture.safetensors (a model file, task "transcribe", with "labels") and
transcriber_fixture.io.safetensors (F64 "input": 16 kHz audio; "scores": the model's outputs per
10 ms frame for the input followed by the 0.4 s of silence the engine appends; metadata
"greedy_text": their greedy CTC decoding). The model is random so that retraining the shipped
transcriber does not touch the fixture. --check compares regenerated values with the files.
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
from export import source_commit  # noqa: E402
import features  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from ssm_model import SsmModel  # noqa: E402

sys.path.insert(0, _HERE)
from text import VOCABULARY  # noqa: E402

SEED = 20261124
RATE = 16000
TAIL_SECONDS = 0.4   # engine/transcribe_file.cpp's kTailSeconds
FRONTEND = {"type": "log_mel", "sample_rate_hz": RATE, "window_samples": 400, "hop_samples": 160,
            "n_bands": 80}
ARCHITECTURE = {
    "input_dim": 80, "d_model": 16, "output_dim": len(VOCABULARY), "norm_eps": 1e-5,
    "layers": [{"type": "mamba2", "d_state": 8, "head_dim": 8, "expand": 2, "d_conv": 4,
                "n_groups": 1} for _ in range(2)],
}
TOLERANCE = 1e-12


def labels():
    return ["" if i == 0 else symbol for i, symbol in enumerate(VOCABULARY)]


def build_model() -> SsmModel:
    torch.manual_seed(SEED)
    model = SsmModel(dict(ARCHITECTURE))
    with torch.no_grad():
        model.head.weight.mul_(3.0)   # confident, varied argmaxes: a wrong step changes the text
    return model.double()


def fixture_input() -> torch.Tensor:
    """0.6 s of a gliding harmonic tone with a syllable envelope and a little noise."""
    generator = torch.Generator().manual_seed(SEED)
    n = int(0.6 * RATE)
    t = torch.arange(n, dtype=torch.float64) / RATE
    phase = 2 * math.pi * torch.cumsum(120.0 + 80.0 * t, 0) / RATE
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 25))
    envelope = 0.5 * (1 - torch.cos(2 * math.pi * 5.0 * t))
    x = 0.2 * envelope * voiced + 0.01 * torch.randn(n, generator=generator, dtype=torch.float64)
    return x.float().double()


def greedy(scores: torch.Tensor) -> str:
    symbols = labels()
    out, previous = [], 0
    for best in scores.argmax(-1).tolist():
        if best != previous and best != 0:
            out.append(symbols[best])
        previous = best
    return " ".join("".join(out).split())


def compute(model: SsmModel):
    x = fixture_input()
    padded = torch.cat([x, torch.zeros(int(TAIL_SECONDS * RATE), dtype=torch.float64)])
    mel = features.log_mel(padded, RATE, 400, 160, 80)
    with torch.no_grad():
        scores = model(mel[None], chunk=64)[0][0]
    return x, scores


def main():
    root = os.path.dirname(os.path.dirname(_TRAIN))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.join(root, "data", "fixtures"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = build_model()
    x, scores = compute(model)
    text = greedy(scores)
    model_path = os.path.join(args.out_dir, "transcriber_fixture.safetensors")
    io_path = os.path.join(args.out_dir, "transcriber_fixture.io.safetensors")
    tensors = [("input", [x.numel()], x.tolist()),
               ("scores", list(scores.shape), scores.reshape(-1).tolist())]
    if not args.check:
        weights = [(name, list(t.shape), t.detach().float().reshape(-1).tolist())
                   for name, t in model.named_tensors().items()]
        recipe = {"name": "transcriber-fixture", "seed": SEED, "commit": source_commit(),
                  "script": "models/train/asr/make_transcriber_fixture.py"}
        write_safetensors(model_path, weights,
                          {"format_version": "1", "task": "transcribe",
                           "frontend": json.dumps(FRONTEND),
                           "architecture": json.dumps(ARCHITECTURE), "recipe": json.dumps(recipe),
                           "labels": json.dumps(labels())})
        size = write_safetensors(io_path, tensors, {"greedy_text": text}, dtype="F64")
        print(f"wrote {model_path} and {io_path} ({size} bytes); greedy text: {text!r}")
        return
    failures = 0
    metadata, on_disk = read_safetensors(io_path)
    for name, shape, values in tensors:
        disk_shape, disk_values = on_disk[name]
        scale = max(1.0, max(abs(v) for v in values))
        worst = max(abs(a - b) for a, b in zip(values, disk_values)) / scale
        if disk_shape != shape or worst > TOLERANCE:
            print(f"MISMATCH {io_path}: {name} (error {worst:.3g})")
            failures += 1
    if metadata.get("greedy_text") != text:
        print(f"MISMATCH {io_path}: greedy_text")
        failures += 1
    _, weights = read_safetensors(model_path)
    for name, t in model.named_tensors().items():
        if weights[name][1] != t.float().reshape(-1).tolist():
            print(f"MISMATCH {model_path}: {name}")
            failures += 1
    print(f"checked {model_path} and {io_path}: {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
