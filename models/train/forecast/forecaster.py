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
the log-widths g[h], the residual means and mean squares, the pull-back sums and the remembered
forecasts (sigma', b_1, the model's 1-step z50, and q10, the median before the offset and q90
for every horizon) are rounded to float32 when stored. The quantiles a step returns are the
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

from forecast.features import (FEATURE_COUNT, TickFeatures, check_season,  # noqa: E402
                               feature_count)

# The `forecast` metadata of a shipped model file, the values of docs/forecast.md's table.
FORECAST_SPEC: Dict = {
    "version": 2, "horizon": 24, "quantiles": [0.1, 0.5, 0.9], "scale_tau": 32,
    "level_tau": 128, "dt_tau": 32, "max_season": 64, "adapt_offset_rate": 0.02,
    "adapt_width_rate": 0.05, "coverage": 0.8, "adapt_break_sigmas": 3.0,
    "adapt_shift_sigmas": 5.0, "adapt_pullback_ticks": 12, "adapt_pullback_prior": 1.0,
}
# Version 3: the ticks-v2 features, ticks-v1 plus a damped local trend (x6, and the anchors
# extrapolate it; docs/forecast.md). trend_tau: time constant (ticks) of the trend's EW mean;
# trend_damping: phi, each tick further ahead adds phi^k of the trend.
TREND_FIELDS: Dict = {"trend_tau": 16, "trend_damping": 0.95}
FORECAST_SPEC_V3: Dict = dict(FORECAST_SPEC, version=3, **TREND_FIELDS)
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



def spec_of_version(version: int) -> Dict:
    """The shipped spec of a `forecast` version: 2 (ticks-v1) or 3 (ticks-v2)."""
    if version == 2:
        return dict(FORECAST_SPEC)
    if version == 3:
        return dict(FORECAST_SPEC_V3)
    raise ValueError(f"forecast version {version}: this build knows 2 and 3")


def architecture_for(spec: Dict) -> Dict:
    """ARCHITECTURE with the input width of the spec's features."""
    architecture = json.loads(json.dumps(ARCHITECTURE))
    architecture["input_dim"] = feature_count(spec)
    return architecture


# Adaptation clamps of docs/forecast.md.
RESIDUAL_CLAMP = 3.0       # |(v - median) / sigma'| counted per step: one outlier moves mu little
LOG_WIDTH_CLAMP = 2.0      # g[h]: the interval is scaled by e^-2 .. e^2 at most
MAX_PULLBACK_TICKS = 1024


def validate_spec(spec: Dict) -> Dict:
    """The doc's range checks; ValueError naming the field."""
    required = ("version", "horizon", "quantiles", "scale_tau", "level_tau", "dt_tau",
                "max_season", "adapt_offset_rate", "adapt_width_rate", "coverage",
                "adapt_break_sigmas", "adapt_shift_sigmas", "adapt_pullback_ticks",
                "adapt_pullback_prior")
    missing = [k for k in required if k not in spec]
    if missing:
        raise ValueError(f"forecast metadata lacks {', '.join(missing)}")
    if spec["version"] == 3:
        missing = [k for k in TREND_FIELDS if k not in spec]
        if missing:
            raise ValueError(f"forecast metadata (version 3) lacks {', '.join(missing)}")
    checks = [
        ("version", spec["version"] in (2, 3), "must be 2 or 3"),
        ("horizon", isinstance(spec["horizon"], int) and 1 <= spec["horizon"] <= 256,
         "must be an integer in 1..256"),
        ("max_season", isinstance(spec["max_season"], int) and 0 <= spec["max_season"] <= 1024,
         "must be an integer in 0..1024"),
        ("coverage", 0.0 < spec["coverage"] < 1.0, "must be in (0, 1)"),
        ("adapt_offset_rate", 0.0 <= spec["adapt_offset_rate"] <= 1.0, "must be in [0, 1]"),
        ("adapt_width_rate", spec["adapt_width_rate"] >= 0, "must be >= 0"),
        ("adapt_pullback_ticks", isinstance(spec["adapt_pullback_ticks"], int)
         and 0 <= spec["adapt_pullback_ticks"] <= MAX_PULLBACK_TICKS,
         f"must be an integer in 0..{MAX_PULLBACK_TICKS}"),
    ]
    for key in ("scale_tau", "level_tau", "dt_tau", "adapt_break_sigmas", "adapt_shift_sigmas",
                "adapt_pullback_prior"):
        checks.append((key, spec[key] > 0, "must be > 0"))
    if spec["version"] == 3:
        checks.append(("trend_tau", spec["trend_tau"] > 0, "must be > 0"))
        checks.append(("trend_damping", 0.0 <= spec["trend_damping"] <= 1.0,
                       "must be in [0, 1]"))
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
    """One stream's online adaptation (docs/forecast.md, "Online adaptation"): per horizon the
    log-width g[h] and the mean and mean square of the median's residuals (the offset is that
    mean, shrunk by its own noise); the pull-back estimate after a shift (two sums and the ticks
    since the shift); and the forecasts of the last H ticks. Disabled, forecast() is the plain
    head. The engine's QuantileReadout does the same, in the same order."""

    def __init__(self, spec: Dict, enabled: bool = True):
        self.horizon = int(spec["horizon"])
        self.enabled = enabled
        self.offset_rate = float(spec["adapt_offset_rate"])
        self.width_rate = float(spec["adapt_width_rate"])
        self.miss_target = 1.0 - float(spec["coverage"])
        self.break_sigmas = float(spec["adapt_break_sigmas"])
        self.shift_sigmas = float(spec["adapt_shift_sigmas"])
        self.pullback_ticks = int(spec["adapt_pullback_ticks"])
        self.pullback_prior = float(spec["adapt_pullback_prior"])
        H = self.horizon
        self.log_width = np.zeros(H)        # g[h - 1], float32 values
        self.residual_mean = np.zeros(H)    # mu[h - 1], in sigma', float32 values
        self.residual_square = np.zeros(H)  # s[h - 1], in sigma'^2, float32 values
        self.pull_zz = 0.0                  # sum of zeta^2 since the shift, float32
        self.pull_zu = 0.0                  # sum of zeta u since the shift, float32
        self.since_shift = self.pullback_ticks   # ticks since the last shift, saturating: inactive
        # the forecast made at tick i lives in slot i % H
        self.made = np.zeros(H, dtype=bool)
        self.sigma = np.ones(H)
        self.anchor1 = np.zeros(H)          # b_1 of that forecast
        self.zeta = np.zeros(H)             # the model's z50 at h = 1 of that forecast
        self.low = np.zeros((H, H))         # adapted q10 per horizon, value units
        self.median = np.zeros((H, H))      # the median before the offset: b_h + sigma' beta z50
        self.high = np.zeros((H, H))        # adapted q90
        self.count = 0   # ticks seen, gaps included
        self.miss_one: Optional[float] = None

    def pullback(self) -> float:
        """beta: the share of the model's median move (z50) the forecast keeps; 1 outside the
        pullback_ticks ticks from a shift on."""
        if self.since_shift >= self.pullback_ticks:
            return 1.0
        ratio = (self.pullback_prior + self.pull_zu) / (self.pullback_prior + self.pull_zz)
        return min(max(ratio, 0.0), 1.0)

    def offsets(self) -> np.ndarray:
        """off[h - 1] in sigma': the residual mean mu less its noise, mu (1 - rate h var / mu^2),
        and 0 when the mean is not above its noise."""
        mean, square = self.residual_mean, self.residual_square
        cut = self.offset_rate * np.arange(1, self.horizon + 1) * np.maximum(square - mean * mean,
                                                                             0.0)
        off = np.zeros(self.horizon)
        keep = mean * mean > cut
        off[keep] = mean[keep] - cut[keep] / mean[keep]
        return off

    def observe(self, value: float) -> None:
        """Before the tick's features, with its value (NaN: a gap): the 1-step forecast decides
        whether this tick is a break or a shift, then every forecast that targets this tick
        (made h ticks ago for horizon h) is scored."""
        if not self.enabled:
            return
        H = self.horizon
        finite = math.isfinite(value)
        one = (self.count - 1) % H
        have_one = finite and self.count >= 1 and bool(self.made[one])
        miss_one = abs(value - self.median[one, 0]) / self.sigma[one] if have_one else 0.0
        self.miss_one = miss_one if have_one else None   # r1, for the fixture's margin check
        shift = have_one and miss_one > self.shift_sigmas
        broken = have_one and miss_one > self.break_sigmas
        if shift:
            self.pull_zz = self.pull_zu = 0.0
            self.since_shift = 0
        else:
            if have_one and self.since_shift < self.pullback_ticks:
                zeta = self.zeta[one]
                moved = (value - self.anchor1[one]) / self.sigma[one]   # u
                self.pull_zz = float(_f32(self.pull_zz + zeta * zeta))
                self.pull_zu = float(_f32(self.pull_zu + zeta * moved))
            self.since_shift = min(self.since_shift + 1, self.pullback_ticks)
        if broken:   # the forecasts made before a break describe a level that is gone
            self.made[:] = False
            return
        if not finite:
            return
        for h in range(1, min(H, self.count) + 1):
            slot = (self.count - h) % H
            if not self.made[slot]:
                continue
            residual = (value - self.median[slot, h - 1]) / self.sigma[slot]
            residual = min(max(residual, -RESIDUAL_CLAMP), RESIDUAL_CLAMP)
            k = h - 1
            self.residual_mean[k] = _f32(self.residual_mean[k] + self.offset_rate
                                         * (residual - self.residual_mean[k]))
            self.residual_square[k] = _f32(self.residual_square[k] + self.offset_rate
                                           * (residual * residual - self.residual_square[k]))
            missed = 1.0 if (value < self.low[slot, k] or value > self.high[slot, k]) else 0.0
            self.log_width[k] = _f32(min(max(
                self.log_width[k] + self.width_rate * (missed - self.miss_target),
                -LOG_WIDTH_CLAMP), LOG_WIDTH_CLAMP))

    def forecast(self, z: np.ndarray, anchors: np.ndarray, sigma: float,
                 season_usable: bool) -> np.ndarray:
        """[H, 3] head output (z10, z50, z90) -> [H, 3] q10, q50, q90 in value units, adapted;
        remembers them and counts the tick. The pull-back applies only without a usable season:
        a seasonal anchor repeats last season's movement, which for P ticks after a shift holds
        the shift itself, and the model's pull-back is then also what corrects that."""
        if not self.enabled:
            quantiles = anchors[:, None] + sigma * z
        else:
            beta = 1.0 if season_usable else self.pullback()
            moved = beta * z[:, 1]
            median = moved + self.offsets()
            width = np.exp(self.log_width)
            adapted = np.stack([median - width * (z[:, 1] - z[:, 0]), median,
                                median + width * (z[:, 2] - z[:, 1])], axis=1)
            quantiles = anchors[:, None] + sigma * adapted
            slot = self.count % self.horizon
            self.made[slot] = True
            self.sigma[slot] = _f32(sigma)
            self.anchor1[slot] = _f32(anchors[0])
            self.zeta[slot] = _f32(z[0, 1])
            self.low[slot] = _f32(quantiles[:, 0])
            self.median[slot] = _f32(anchors + sigma * moved)
            self.high[slot] = _f32(quantiles[:, 2])
        self.count += 1
        return quantiles

    def skip(self) -> None:
        """A tick with no forecast (the stream has no value yet): remembered as none."""
        self.made[self.count % self.horizon] = False
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
            self.adaptation.skip()
            return None
        return self.adaptation.forecast(head_numpy(self.outputs), self.anchors, self.sigma,
                                        season_usable=bool(self.x[5] == 1.0))
