"""The trained forecaster as a backtest.py engine: a model file run tick by tick by the PyTorch
reference (forecaster.StreamingForecaster, float32 weights, adaptation on), which computes what
`statestream forecast` does.

    /usr/bin/python3 models/train/forecast/backtest.py --engines naive torch \\
        [--model data/models/forecaster.safetensors]

The engine warms the stream on the fit part (features, model state and adaptation all run over
it, one tick at a time, as a live stream would have), then alternates forecast() and observe().
Times: a series' own time t (decimal years, days, ticks) becomes int64 ns as round(t * 1e9)
(dataset.time_to_ns, the conversion training used). t * 1e9 in float64 is within a fraction of
a nanosecond of the exact product for every series here (|t| < 4e6), so the rounding is the
same on every machine; equal times stay equal and the unit cancels in the features (they use
only the log time step against its own running mean). Seasons: backtest's 1 (none) and
seasons above the model's max_season become 0; 2..max_season are passed on.
"""
import os
import sys
from typing import Dict, Optional, Tuple

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from forecast.dataset import season_of, time_to_ns  # noqa: E402

DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.dirname(_TRAIN_DIR)), "data", "models",
                             "forecaster.safetensors")
_settings = {"model_path": DEFAULT_MODEL, "adapt": True}
_loaded: Dict[str, Tuple[object, Dict]] = {}


def configure(model_path: Optional[str] = None, adapt: bool = True) -> None:
    """The model file the engine runs (default DEFAULT_MODEL) and whether it adapts online."""
    _settings["model_path"] = model_path or DEFAULT_MODEL
    _settings["adapt"] = adapt


def _load(path: str):
    """(model, spec) of a forecasting model file, loaded once per process."""
    if path not in _loaded:
        import json
        import torch
        from ssm_model import load_model
        from forecast.forecaster import TASK, validate_spec
        if not os.path.isfile(path):
            raise SystemExit(f"{path}: no model file there; train one with "
                             "models/train/forecast/train.py and export it with "
                             "models/train/forecast/export_forecaster.py, or pass --model")
        model, metadata = load_model(path, dtype=torch.float32)
        if metadata.get("task") != TASK or "forecast" not in metadata:
            raise SystemExit(f"{path}: task {metadata.get('task')!r} without a 'forecast' entry; "
                             "not a forecasting model file (docs/forecast.md)")
        torch.set_flush_denormal(True)   # as the engine does: decaying states reach denormals
        _loaded[path] = (model.eval(), validate_spec(json.loads(metadata["forecast"])))
    return _loaded[path]


class TorchEngine:
    """backtest.Engine over one series: forecast() -> [horizon, 3], observe(time, value)."""

    def __init__(self, model, spec: Dict, fit_times: np.ndarray, fit_values: np.ndarray,
                 season: int, horizon: int, adapt: bool = True, name: str = "model"):
        from forecast.forecaster import StreamingForecaster
        if horizon > spec["horizon"]:
            raise ValueError(f"horizon {horizon} is beyond the model's {spec['horizon']}; run "
                             f"backtest.py with --horizon {spec['horizon']} or less")
        self.horizon = horizon
        model_season = season_of(season, int(spec["max_season"]))
        self.stream = StreamingForecaster(model, spec, model_season, adapt=adapt)
        self.latest = None
        for t_ns, value in zip(time_to_ns(fit_times), fit_values):
            self.latest = self.stream.step(int(t_ns), float(value))
        self.description = f"{name} season {model_season}{'' if adapt else ' no-adapt'}"

    def forecast(self) -> np.ndarray:
        if self.latest is None:
            raise RuntimeError("no finite value seen yet: the model emits no forecast")
        return self.latest[:self.horizon]

    def observe(self, time_value: float, value: float) -> None:
        t_ns = int(time_to_ns(np.array([time_value]))[0])
        self.latest = self.stream.step(t_ns, float(value))


def make_engine(fit_times: np.ndarray, fit_values: np.ndarray, season: int,
                horizon: int, adapt: Optional[bool] = None) -> TorchEngine:
    """backtest.EngineFactory for the configured model file; `adapt` overrides the configured
    adaptation (backtest's torch-noadapt)."""
    path = _settings["model_path"]
    model, spec = _load(path)
    return TorchEngine(model, spec, fit_times, fit_values, season, horizon,
                       adapt=bool(_settings["adapt"] if adapt is None else adapt),
                       name=os.path.basename(path))
