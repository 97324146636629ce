"""The stream forecaster of docs/forecast.md in PyTorch: the model file's metadata, the quantile
head, the per-stream online adaptation, and a streaming reference that runs all of it one tick
at a time, as engine/forecast does.

    from forecast.forecaster import ARCHITECTURE, FORECAST_SPEC, StreamingForecaster
    model = SsmModel(ARCHITECTURE)                    # or ssm_model.load_model(path)
    stream = StreamingForecaster(model, FORECAST_SPEC, season=12)
    q = stream.step(t_ns, value)                      # [H, 3] q10/q50/q90, or None

Training uses quantile_head() and pinball_loss() on whole batches (train.py); the streaming
reference uses the same head in float64 (head_numpy) and is what the golden fixture records.

Per-stream state is kept in float32 and updated in float64, like the features (features.py):
the offsets off[h], the log-widths g[h], and the remembered forecasts (q10, q50, q90 for every
horizon and sigma') are rounded to float32 when stored. The quantiles a step returns are the
float64 values before that rounding.
"""
import json
import math
import os
import sys
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from forecast.features import FEATURE_COUNT, TickFeatures, check_season  # noqa: E402

# The `forecast` metadata of a shipped model file, the values of docs/forecast.md's table.
FORECAST_SPEC: Dict = {
    "version": 1, "horizon": 24, "quantiles": [0.1, 0.5, 0.9], "scale_tau": 32,
    "level_tau": 128, "dt_tau": 32, "max_season": 64, "adapt_offset_rate": 0.05,
    "adapt_width_rate": 0.05, "coverage": 0.8,
}
FRONTEND: Dict = {"type": "ticks"}
TASK = "forecast"
QUANTILE_COUNT = 3

# Two Mamba-2 layers at d_model 32: 18.4 k parameters, 74 kB as a model file, and about as many
# multiply-adds per tick, so one core steps tens of thousands of streams per second.
ARCHITECTURE: Dict = {
    "input_dim": FEATURE_COUNT, "d_model": 32,
    "output_dim": QUANTILE_COUNT * FORECAST_SPEC["horizon"], "norm_eps": 1e-5,
    "layers": [{"type": "mamba2", "d_state": 16, "head_dim": 16, "expand": 2, "d_conv": 4,
                "n_groups": 1} for _ in range(2)],
}

# Adaptation clamps of docs/forecast.md.
OFFSET_STEP_CLAMP = 3.0    # |(v - q50) / sigma'| counted per step: one outlier moves off little
OFFSET_CLAMP = 10.0        # off[h], in units of sigma'
LOG_WIDTH_CLAMP = 2.0      # g[h]: the interval is scaled by e^-2 .. e^2 at most


def validate_spec(spec: Dict) -> Dict:
    """The doc's range checks; ValueError naming the field."""
    required = ("version", "horizon", "quantiles", "scale_tau", "level_tau", "dt_tau",
                "max_season", "adapt_offset_rate", "adapt_width_rate", "coverage")
    missing = [k for k in required if k not in spec]
    if missing:
        raise ValueError(f"forecast metadata lacks {', '.join(missing)}")
    checks = [
        ("version", spec["version"] == 1, "must be 1"),
        ("horizon", isinstance(spec["horizon"], int) and 1 <= spec["horizon"] <= 256,
         "must be an integer in 1..256"),
        ("max_season", isinstance(spec["max_season"], int) and 0 <= spec["max_season"] <= 1024,
         "must be an integer in 0..1024"),
        ("coverage", 0.0 < spec["coverage"] < 1.0, "must be in (0, 1)"),
    ]
    for key in ("scale_tau", "level_tau", "dt_tau"):
        checks.append((key, spec[key] > 0, "must be > 0"))
    for key in ("adapt_offset_rate", "adapt_width_rate"):
        checks.append((key, spec[key] >= 0, "must be >= 0"))
    q = list(spec["quantiles"])
    checks.append(("quantiles", len(q) == 3 and 0 < q[0] < q[1] < q[2] < 1 and q[1] == 0.5,
                   "must be three increasing levels in (0, 1) with the middle one 0.5"))
    for key, ok, why in checks:
        if not ok:
            raise ValueError(f"forecast metadata: {key} = {spec[key]!r} {why}")
    return spec


def spec_metadata(spec: Dict = FORECAST_SPEC) -> Dict[str, str]:
    """The model file's extra metadata entry: "forecast", the spec as JSON in the doc's order."""
    return {"forecast": json.dumps(validate_spec(dict(spec)))}


# --- The quantile head ---------------------------------------------------------------------------

def quantile_head(outputs: torch.Tensor) -> torch.Tensor:
    """[..., 3 H] raw outputs -> [..., H, 3] z10, z50, z90 in units of sigma' around the anchors:
    z50 = o0, z10 = o0 - softplus(o1), z90 = o0 + softplus(o2), so they never cross."""
    o = outputs.reshape(*outputs.shape[:-1], -1, QUANTILE_COUNT)
    median = o[..., 0]
    return torch.stack([median - F.softplus(o[..., 1]), median,
                        median + F.softplus(o[..., 2])], dim=-1)


def _softplus(value: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)."""
    return np.maximum(value, 0.0) + np.log1p(np.exp(-np.abs(value)))


def head_numpy(outputs: np.ndarray) -> np.ndarray:
    """quantile_head in float64 for one tick: [3 H] -> [H, 3]."""
    o = np.asarray(outputs, dtype=np.float64).reshape(-1, QUANTILE_COUNT)
    median = o[:, 0]
    return np.stack([median - _softplus(o[:, 1]), median, median + _softplus(o[:, 2])], axis=1)


def pinball_loss(z: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                 quantiles: Sequence[float] = FORECAST_SPEC["quantiles"]) -> torch.Tensor:
    """Mean pinball loss over the three quantiles and every unmasked (tick, horizon):
    z [..., H, 3], target and mask [..., H] (mask 1 where a target exists)."""
    levels = torch.tensor(list(quantiles), dtype=z.dtype, device=z.device)
    error = target.unsqueeze(-1) - z                                   # [..., H, 3]
    loss = torch.maximum(levels * error, (levels - 1.0) * error)
    weight = mask.to(z.dtype).unsqueeze(-1)
    return (loss * weight).sum() / (weight.sum().clamp_min(1.0) * QUANTILE_COUNT)


# --- Online adaptation ---------------------------------------------------------------------------

def _f32(value):
    return np.asarray(value, dtype=np.float64).astype(np.float32).astype(np.float64)


class Adaptation:
    """One stream's offsets off[h], log-widths g[h] and its last H forecasts (docs/forecast.md,
    "Online adaptation"). Disabled, off and g stay 0 and apply() is the plain head."""

    def __init__(self, spec: Dict, enabled: bool = True):
        self.horizon = int(spec["horizon"])
        self.enabled = enabled
        self.offset_rate = float(spec["adapt_offset_rate"])
        self.width_rate = float(spec["adapt_width_rate"])
        self.miss_target = 1.0 - float(spec["coverage"])
        self.offset = np.zeros(self.horizon)      # off[h - 1], float32 values
        self.log_width = np.zeros(self.horizon)   # g[h - 1], float32 values
        # forecast made at tick i lives in slot i % H: [H slots, H horizons, 3]
        self.made = np.zeros(self.horizon, dtype=bool)
        self.quantiles = np.zeros((self.horizon, self.horizon, QUANTILE_COUNT))
        self.sigma = np.zeros(self.horizon)
        self.count = 0   # ticks seen, gaps included

    def observe(self, value: float) -> None:
        """Before the tick's features: score every forecast that targets this tick (made h ticks
        ago for horizon h) against a finite value."""
        if not self.enabled or not math.isfinite(value):
            return
        for h in range(1, min(self.horizon, self.count) + 1):
            slot = (self.count - h) % self.horizon
            if not self.made[slot]:
                continue
            low, median, high = self.quantiles[slot, h - 1]
            sigma = self.sigma[slot]
            step = min(max((value - median) / sigma, -OFFSET_STEP_CLAMP), OFFSET_STEP_CLAMP)
            self.offset[h - 1] = _f32(min(max(self.offset[h - 1] + self.offset_rate * step,
                                              -OFFSET_CLAMP), OFFSET_CLAMP))
            missed = 1.0 if (value < low or value > high) else 0.0
            self.log_width[h - 1] = _f32(min(max(
                self.log_width[h - 1] + self.width_rate * (missed - self.miss_target),
                -LOG_WIDTH_CLAMP), LOG_WIDTH_CLAMP))

    def apply(self, z: np.ndarray) -> np.ndarray:
        """[H, 3] head output -> adapted [H, 3]: the median moves by off, each half-width
        scales by e^g."""
        median = z[:, 1] + self.offset
        width = np.exp(self.log_width)
        return np.stack([median - width * (z[:, 1] - z[:, 0]), median,
                         median + width * (z[:, 2] - z[:, 1])], axis=1)

    def remember(self, quantiles: Optional[np.ndarray], sigma: Optional[float]) -> None:
        """After the tick's forecast (None: no forecast this tick); counts the tick."""
        slot = self.count % self.horizon
        self.made[slot] = quantiles is not None
        if quantiles is not None:
            self.quantiles[slot] = _f32(quantiles)
            self.sigma[slot] = _f32(sigma)
        self.count += 1


# --- The streaming reference ---------------------------------------------------------------------

class StreamingForecaster:
    """One stream through a model, one tick at a time, in the doc's order: adapt (with the
    arriving value) -> features -> model step -> quantile head with adaptation -> remember.
    `model` is an SsmModel (any dtype; float64 for fixtures) or anything with the same
    initial_state(dtype) and step(x, state)."""

    def __init__(self, model, spec: Dict = FORECAST_SPEC, season: int = 0, adapt: bool = True,
                 dtype: Optional[torch.dtype] = None):
        self.spec = validate_spec(dict(spec))
        self.horizon = int(spec["horizon"])
        self.season = check_season(season, int(spec["max_season"]))
        self.model = model
        self.dtype = dtype or next(model.parameters()).dtype
        self.state = model.initial_state(self.dtype)
        self.features = TickFeatures(self.spec)
        self.adaptation = Adaptation(self.spec, adapt)
        # the last tick's intermediate values, for fixtures and tests
        self.x: Optional[np.ndarray] = None
        self.outputs: Optional[np.ndarray] = None
        self.anchors: Optional[np.ndarray] = None
        self.sigma: Optional[float] = None

    def step(self, t_ns: int, value: float) -> Optional[np.ndarray]:
        """[H, 3] q10, q50, q90 for horizons 1..H after this tick; None while the stream has
        had no finite value."""
        self.adaptation.observe(float(value))
        self.x, self.anchors, self.sigma = self.features.step(t_ns, value, self.season)
        with torch.no_grad():
            out, self.state = self.model.step(torch.from_numpy(self.x).to(self.dtype), self.state)
        self.outputs = out.detach().cpu().double().numpy()
        if self.anchors is None:
            self.adaptation.remember(None, None)
            return None
        z = self.adaptation.apply(head_numpy(self.outputs))
        quantiles = self.anchors[:, None] + self.sigma * z
        self.adaptation.remember(quantiles, self.sigma)
        return quantiles
