#!/usr/bin/env python3
"""Checkpoint (train.py) -> the engine's forecasting model file.

    /usr/bin/python3 models/train/forecast/export_forecaster.py \\
        --checkpoint build/forecast/checkpoint.pt [--out data/models/forecaster.safetensors]
    /usr/bin/python3 models/train/forecast/export_forecaster.py --respec \\
        --checkpoint build/forecast_final/checkpoint.pt     # the shipped model, spec v2

The file is an ordinary model file (export.py, docs/model_format.md) with task "forecast",
frontend {"type": "ticks"}, the `forecast` metadata (the spec the checkpoint was trained with;
forecaster.FORECAST_SPEC) and the recipe. The SsmModel is the whole trainable model (the quantile
head has no weights), so nothing is folded. Export checks that the file loads back and gives the
checkpoint's outputs on seeded features, that its metadata is what docs/forecast.md requires,
and that a stream runs through it; it refuses files over MAX_BYTES.

--respec exports a checkpoint trained under an earlier `forecast` version with the current
one: its feature and head fields (horizon, quantiles, the taus, max_season), which the weights
were trained for, stay; the version and the online-adaptation fields, which no weight depends
on, become forecaster.FORECAST_SPEC's. The weights and the rest of the file do not change.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from export import export_model  # noqa: E402
from ssm_model import SsmModel, load_model  # noqa: E402
from forecast.features import feature_count  # noqa: E402
from forecast.forecaster import (FORECAST_SPEC, FRONTEND, TASK,  # noqa: E402
                                 StreamingForecaster, spec_metadata, validate_spec)
from forecast.synthetic import generate  # noqa: E402

MAX_BYTES = 1024 * 1024
TOLERANCE = 1e-4   # float32 weights and a float32 forward against the checkpoint's own
# What the weights were trained for: the ticks-v1 features and the quantile head. --respec keeps
# these from the checkpoint and takes every other field (the adaptation) from FORECAST_SPEC.
TRAINED_FIELDS = ("horizon", "quantiles", "scale_tau", "level_tau", "dt_tau", "max_season")


def respecified(spec: dict) -> dict:
    """The checkpoint's spec under the current version: its TRAINED_FIELDS, FORECAST_SPEC's
    other fields, in FORECAST_SPEC's order."""
    missing = [key for key in TRAINED_FIELDS if key not in spec]
    if missing:
        raise SystemExit(f"checkpoint spec {spec} lacks {', '.join(missing)}; not a forecaster "
                         "checkpoint")
    return validate_spec({key: spec[key] if key in TRAINED_FIELDS else value
                          for key, value in FORECAST_SPEC.items()})


def load_checkpoint_model(path: str):
    from forecast.train import load_checkpoint
    state = load_checkpoint(path, "cpu")
    model = SsmModel(dict(state["architecture"]))
    model.load_state_dict(state["model"])
    return model.float().eval(), state


def check_file(model: SsmModel, path: str, spec: dict) -> float:
    """Largest |output difference| between the checkpoint and the written file on seeded
    features; SystemExit above TOLERANCE or on metadata that docs/forecast.md forbids."""
    written, metadata = load_model(path, dtype=torch.float32)
    forecast = json.loads(metadata.get("forecast", "null"))
    architecture = json.loads(metadata["architecture"])
    horizon = forecast["horizon"] if forecast else None
    if (metadata.get("task") != TASK or json.loads(metadata.get("frontend", "null")) != FRONTEND
            or forecast != spec or architecture["input_dim"] != feature_count(spec)
            or architecture["output_dim"] != 3 * horizon):
        raise SystemExit(f"{path}: task {metadata.get('task')!r}, frontend "
                         f"{metadata.get('frontend')}, forecast {forecast}, input_dim "
                         f"{architecture['input_dim']}, output_dim {architecture['output_dim']}: "
                         f"not what docs/forecast.md requires")
    validate_spec(forecast)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(4, 300, feature_count(spec), generator=generator)
    with torch.no_grad():
        error = float((model(x)[0] - written(x)[0]).abs().max())
    if error > TOLERANCE:
        raise SystemExit(f"{path}: outputs differ from the checkpoint's by {error:.2e} "
                         f"(more than {TOLERANCE}); not a faithful export")
    series = generate("seasonal_trend", seed=5, length=200)
    stream = StreamingForecaster(written, forecast, season=0)
    for t, v in zip(series.timestamps, series.values):
        q = stream.step(int(round(t * 1e9)), float(v))
    if q is None or not np.all(np.isfinite(q)) or not np.all(np.diff(q, axis=1) >= 0):
        raise SystemExit(f"{path}: a seeded stream's last forecast is {q}; expected finite, "
                         "ordered quantiles")
    return error


def main(argv=None) -> int:
    root = os.path.dirname(os.path.dirname(_TRAIN_DIR))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=os.path.join(root, "build/forecast/checkpoint.pt"))
    parser.add_argument("--out", default=os.path.join(root, "data/models/forecaster.safetensors"))
    parser.add_argument("--respec", action="store_true",
                        help="export with the current forecast version's adaptation fields")
    args = parser.parse_args(argv)
    model, state = load_checkpoint_model(args.checkpoint)
    if args.respec:
        spec = respecified(dict(state["spec"]))
    elif state["spec"].get("version") not in (2, 3):   # 3: ticks-v2 features
        raise SystemExit(f"{args.checkpoint}: trained under forecast version "
                         f"{state['spec'].get('version')}, this exporter writes versions "
                         "2 and 3; pass --respec to keep its weights and "
                         "take the current adaptation fields")
    else:
        spec = validate_spec(dict(state["spec"]))
    train_args = state.get("args", {})
    last_validation = (state.get("validation") or [{}])[-1]
    recipe = {"name": "forecaster-mamba2-" + ("ticks-v2" if spec["version"] >= 3 else "ticks-v1"), "script": "models/train/forecast/train.py",
              "seed": train_args.get("seed"), "steps": state.get("step"),
              "batch": train_args.get("batch"), "crop": train_args.get("crop"),
              "lr": train_args.get("lr"), "train_minutes": state.get("train_minutes"),
              "data": state.get("sources"), "validation": last_validation,
              "loss": "mean pinball over q10/q50/q90 and h = 1..H, in units of sigma'"}
    if args.respec:
        recipe["respec"] = (f"trained under forecast version {state['spec'].get('version')}; "
                            f"exported with version {spec['version']}'s adaptation fields by "
                            "export_forecaster.py --respec, the weights as trained")
    size = export_model(model, args.out, task=TASK, frontend=FRONTEND, recipe=recipe,
                        extra_metadata=spec_metadata(spec))
    if size > MAX_BYTES:
        os.remove(args.out)
        raise SystemExit(f"{args.out}: {size} bytes is over the {MAX_BYTES}-byte limit; removed")
    error = check_file(model, args.out, spec)
    print(f"wrote {args.out}: {size} bytes, step {state.get('step')}; outputs match the "
          f"checkpoint to {error:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
