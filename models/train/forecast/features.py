"""The ticks-v1 features of docs/forecast.md: per stream, six model inputs, the anchors b_h and
the scale sigma' after every tick. The reference of engine/forecast's feature step.

    from forecast.features import TickFeatures, batch_features
    stream = TickFeatures(spec)                        # spec: forecaster.FORECAST_SPEC
    x, anchors, sigma = stream.step(t_ns, value, season)
    batch = batch_features(times_ns, values, seasons, spec)   # [B, T] at once, for training

With a version-3 spec (forecaster.FORECAST_SPEC_V3, an experiment, not shipped: RECIPE.md's
cross-validation) the features are ticks-v2: a 7th input x6 = clamp(tr / sigma', -8, 8) / 2, tr
the EW mean (trend_tau) of a slope sample per value tick ((last - ago(P)) / P with a usable
season, else v - last), and the anchors add tr (c_h - c_j0), c_k = phi + ... + phi^k
(trend_damping), j0 the ticks last season's movement covers (0 without a season).

TickFeatures is the plain sequential form: one stream, one tick at a time, written to read like
the doc. batch_features computes the same numbers for many streams at once (a loop over time,
vectorised over the batch), and test_forecaster.py holds the two equal bit for bit; training
data comes from it, so the model trains on exactly what the engine feeds it.

Numerics, as the engine does them: the state (last, s2, m, ld and the ring) is kept in float32
and every update is computed in float64 from the float32 values, then rounded to float32
(dsp/running_normaliser's "kept in float, updated in double": a saved state restores bit for
bit). Features are computed in float64 and rounded to float32, the model's input dtype; anchors
and sigma' stay float64. Where the doc leaves the order of operations open, this file fixes it:
scale = sqrt((s2 + (0.001 last)^2) + 1e-12), s2' = a_s s2 + ((1 - a_s) d) d, and
b_h = last + (ago(P - j) - ago(P)). Time steps are int64 nanoseconds; their difference is taken
in integers, then converted to float64 and multiplied by 1e-9.
"""
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

FEATURE_COUNT = 6                            # ticks-v1 (forecast version 2)
TREND_FEATURE_COUNT = 7                      # ticks-v2 (version 3): x6, the local trend
# Clamps of docs/forecast.md, with the divisor that brings each feature to about +-3 or less.
DIFF_CLAMP, DIFF_DIVISOR = 8.0, 2.0          # x0: one-tick change in units of sigma
LEVEL_CLAMP, LEVEL_DIVISOR = 30.0, 10.0      # x1, x4: distance from the level mean / seasonal move
STEP_CLAMP, STEP_DIVISOR = 5.0, 2.0          # x2: log time step against its running mean
RELATIVE_SCALE_FLOOR = 0.001                 # sigma never below 0.1 % of the last value
ABSOLUTE_VARIANCE_FLOOR = 1e-12              # ... nor below 1e-6 (a stream of zeros)
MIN_STEP_SECONDS = 1e-9                      # equal timestamps count as one nanosecond
TREND_CLAMP, TREND_DIVISOR = 8.0, 2.0        # x6: the local trend per tick, in units of sigma'


def has_trend(spec: Dict) -> bool:
    """Version 3 adds the damped local trend (ticks-v2); version 2 is ticks-v1."""
    return int(spec["version"]) >= 3


def feature_count(spec: Dict) -> int:
    return TREND_FEATURE_COUNT if has_trend(spec) else FEATURE_COUNT


def trend_sums(spec: Dict) -> np.ndarray:
    """c[k] = phi + phi^2 + ... + phi^k for k = 0..H (c[0] = 0), phi = trend_damping: the damped
    number of trend steps from now to k ticks ahead. Summed in this order, in float64, so every
    implementation gets the same table."""
    horizon = int(spec["horizon"])
    sums = np.zeros(horizon + 1)
    if not has_trend(spec):
        return sums
    damping = float(spec["trend_damping"])
    power = 1.0
    for k in range(1, horizon + 1):
        power *= damping
        sums[k] = sums[k - 1] + power
    return sums


def check_season(season: int, max_season: int) -> int:
    season = int(season)
    if season != 0 and not 2 <= season <= max_season:
        raise ValueError(f"season {season}: must be 0 (none) or 2..{max_season} (max_season)")
    return season


def _f32(value: float) -> float:
    """Rounded to float32, kept as a Python float (float64) for the next update."""
    return float(np.float32(value))


def _clamp(value: float, bound: float) -> float:
    return min(max(value, -bound), bound)


def _clip(values: np.ndarray, bound: float) -> np.ndarray:
    """np.clip(values, -bound, bound) without its per-call overhead (5x in the time loop)."""
    return np.minimum(np.maximum(values, -bound), bound)


def _scale(last: float, s2: float) -> float:
    relative = RELATIVE_SCALE_FLOOR * last
    return math.sqrt(s2 + relative * relative + ABSOLUTE_VARIANCE_FLOOR)


class TickFeatures:
    """One stream's ticks-v1 state; step() is the doc's steps 1 to 5 for one tick."""

    def __init__(self, spec: Dict):
        self.horizon = int(spec["horizon"])
        self.max_season = int(spec["max_season"])
        self.keep_scale = math.exp(-1.0 / float(spec["scale_tau"]))    # a_s
        self.keep_level = math.exp(-1.0 / float(spec["level_tau"]))    # a_l
        self.keep_step = math.exp(-1.0 / float(spec["dt_tau"]))        # a_d
        self.trend = has_trend(spec)
        self.keep_trend = math.exp(-1.0 / float(spec["trend_tau"])) if self.trend else 0.0
        self.trend_sums = trend_sums(spec)
        self.tr = 0.0            # EW mean of the per-tick slope samples (float32 values)
        self.has_tr = False
        self.last = math.nan
        self.has_last = False
        self.s2 = 0.0
        self.has_diff = False
        self.m = 0.0
        self.ld = 0.0
        self.has_dt = False
        self.t_prev = 0
        self.count = 0
        # slot i % len holds the value pushed at tick i, so ago(k) is slot (count - k) % len
        self.ring = [math.nan] * (self.max_season + 1)

    def ago(self, k: int) -> float:
        """The value pushed k ticks ago (0: this tick's); NaN before the stream had k ticks."""
        newest = self.count - 1   # ago() is read after this tick's push and before its count
        if k > newest:
            return math.nan
        return self.ring[(newest - k) % len(self.ring)]

    def step(self, t_ns: int, value: float,
             season: int) -> Tuple[np.ndarray, Optional[np.ndarray], Optional[float]]:
        """One tick: returns x [6] float32, the anchors b_1..b_H (float64; None while the stream
        has no finite value yet) and sigma' (float64; None likewise)."""
        season = check_season(season, self.max_season)
        t_ns = int(t_ns)
        # 1. time step
        x2 = 0.0
        if self.count > 0:
            log_step = math.log(max((t_ns - self.t_prev) * 1e-9, MIN_STEP_SECONDS))
            if self.has_dt:
                x2 = _clamp(log_step - self.ld, STEP_CLAMP) / STEP_DIVISOR
                self.ld = _f32(self.ld + (1.0 - self.keep_step) * (log_step - self.ld))
            else:
                self.ld = _f32(log_step)
                self.has_dt = True
        # 2. value
        value = float(value)
        finite = math.isfinite(value)
        x3 = 0.0 if finite else 1.0
        sigma = _scale(self.last, self.s2)
        x0 = x1 = 0.0
        updated = finite and self.has_last
        d = 0.0
        if finite and self.has_last:
            d = value - self.last
            x0 = _clamp(d / sigma, DIFF_CLAMP) / DIFF_DIVISOR
            x1 = _clamp((value - self.m) / sigma, LEVEL_CLAMP) / LEVEL_DIVISOR
            if self.has_diff:
                self.s2 = _f32(self.keep_scale * self.s2 + (1.0 - self.keep_scale) * d * d)
            else:
                self.s2 = _f32(d * d)
            self.has_diff = True
            self.m = _f32(self.m + (1.0 - self.keep_level) * (value - self.m))
            self.last = _f32(value)
        elif finite:
            self.m = _f32(value)
            self.last = _f32(value)
            self.has_last = True
        elif self.has_last:
            x1 = _clamp((self.last - self.m) / sigma, LEVEL_CLAMP) / LEVEL_DIVISOR
        # 3. ring (forward-filled: a gap repeats last; NaN before the first finite value)
        self.ring[self.count % len(self.ring)] = self.last
        self.count += 1   # ago() counts this tick from here on; step 5's count, done early
        # 4. season
        sigma_after = _scale(self.last, self.s2)
        usable = season > 0 and math.isfinite(self.ago(season))
        x4 = x5 = 0.0
        if usable:
            x4 = _clamp((self.ago(season - 1) - self.ago(season)) / sigma_after,
                        LEVEL_CLAMP) / LEVEL_DIVISOR
            x5 = 1.0
        features = [x0, x1, x2, x3, x4, x5]
        # 4b. trend (version 3): a slope sample per value tick, the year-over-year change per
        # tick when the season is usable (free of the seasonal swing), else the difference
        if self.trend:
            if updated:
                slope = (self.last - self.ago(season)) / season if usable else d
                self.tr = _f32(self.tr + (1.0 - self.keep_trend) * (slope - self.tr)
                               if self.has_tr else slope)
                self.has_tr = True
            features.append(_clamp(self.tr / sigma_after, TREND_CLAMP) / TREND_DIVISOR
                            if self.has_tr else 0.0)
        # 5. remember t
        self.t_prev = t_ns
        x = np.array(features, dtype=np.float64).astype(np.float32)
        if not self.has_last:
            return x, None, None
        anchors = np.full(self.horizon, self.last)
        if usable:
            for h in range(1, self.horizon + 1):
                j = (h - 1) % season + 1
                anchors[h - 1] = self.last + (self.ago(season - j) - self.ago(season))
        if self.trend:
            for h in range(1, self.horizon + 1):
                done = (h - 1) % season + 1 if usable else 0   # ticks last season's move covers
                anchors[h - 1] = anchors[h - 1] + self.tr * (self.trend_sums[h]
                                                             - self.trend_sums[done])
        return x, anchors, sigma_after


@dataclass
class BatchFeatures:
    x: np.ndarray          # [B, T, 6] float32: the model input
    anchors: np.ndarray    # [B, T, H] float64: b_h; NaN where the stream has no value yet
    sigma: np.ndarray      # [B, T] float64: sigma' after the tick; NaN likewise
    has_last: np.ndarray   # [B, T] bool: a forecast is made after this tick


def batch_features(times_ns: np.ndarray, values: np.ndarray, seasons: np.ndarray,
                   spec: Dict) -> BatchFeatures:
    """TickFeatures over B streams of T ticks at once, every stream starting fresh at column 0.
    times_ns [B, T] int64, values [B, T] float64 (NaN: a gap), seasons [B] (0 or 2..max_season).
    Columns past a stream's end may hold anything finite in time (padding): they only follow
    the real ticks, so they change nothing before them."""
    times_ns = np.asarray(times_ns, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if times_ns.shape != values.shape or values.ndim != 2:
        raise ValueError(f"times {times_ns.shape} and values {values.shape} must both be [B, T]")
    batch, length = values.shape
    max_season = int(spec["max_season"])
    seasons = np.array([check_season(s, max_season) for s in np.asarray(seasons).reshape(-1)],
                       dtype=np.int64)
    if seasons.shape != (batch,):
        raise ValueError(f"seasons has {seasons.size} entries for {batch} streams")
    horizon = int(spec["horizon"])
    keep_scale = math.exp(-1.0 / float(spec["scale_tau"]))
    keep_level = math.exp(-1.0 / float(spec["level_tau"]))
    keep_step = math.exp(-1.0 / float(spec["dt_tau"]))

    last = np.full(batch, np.nan, dtype=np.float32)
    s2 = np.zeros(batch, dtype=np.float32)
    m = np.zeros(batch, dtype=np.float32)
    ld = np.zeros(batch, dtype=np.float32)
    has_last = np.zeros(batch, dtype=bool)
    has_diff = np.zeros(batch, dtype=bool)
    trend = has_trend(spec)
    keep_trend = math.exp(-1.0 / float(spec["trend_tau"])) if trend else 0.0
    tr = np.zeros(batch, dtype=np.float32)
    has_tr = np.zeros(batch, dtype=bool)
    tr_after = np.zeros((batch, length), dtype=np.float64)
    has_tr_after = np.zeros((batch, length), dtype=bool)
    rows1 = np.arange(batch)
    x = np.zeros((batch, length, feature_count(spec)), dtype=np.float64)
    pushed = np.empty((batch, length), dtype=np.float32)      # ago(k) at column t is [t - k]
    sigma_after = np.empty((batch, length), dtype=np.float64)
    has_last_after = np.empty((batch, length), dtype=bool)

    with np.errstate(invalid="ignore", divide="ignore"):
        for t in range(length):
            # 1. time step: every stream has ticked at every earlier column, so has_dt is t > 1
            if t > 0:
                step_ns = (times_ns[:, t] - times_ns[:, t - 1]).astype(np.float64)
                log_step = np.log(np.maximum(step_ns * 1e-9, MIN_STEP_SECONDS))
                ld64 = ld.astype(np.float64)
                if t > 1:
                    x[:, t, 2] = _clip(log_step - ld64, STEP_CLAMP) / STEP_DIVISOR
                    ld = (ld64 + (1.0 - keep_step) * (log_step - ld64)).astype(np.float32)
                else:
                    ld = log_step.astype(np.float32)
            # 2. value
            value = values[:, t]
            finite = np.isfinite(value)
            last64 = last.astype(np.float64)
            s2_64 = s2.astype(np.float64)
            m64 = m.astype(np.float64)
            relative = RELATIVE_SCALE_FLOOR * last64
            sigma = np.sqrt(s2_64 + relative * relative + ABSOLUTE_VARIANCE_FLOOR)
            update = finite & has_last
            first = finite & ~has_last
            gap = ~finite & has_last
            d = value - last64
            x[:, t, 0] = np.where(update, _clip(d / sigma, DIFF_CLAMP) / DIFF_DIVISOR, 0.0)
            x1_update = _clip((value - m64) / sigma, LEVEL_CLAMP) / LEVEL_DIVISOR
            x1_gap = _clip((last64 - m64) / sigma, LEVEL_CLAMP) / LEVEL_DIVISOR
            x[:, t, 1] = np.where(update, x1_update, np.where(gap, x1_gap, 0.0))
            x[:, t, 3] = np.where(finite, 0.0, 1.0)
            s2_next = np.where(has_diff, keep_scale * s2_64 + (1.0 - keep_scale) * d * d, d * d)
            s2 = np.where(update, s2_next, s2_64).astype(np.float32)
            has_diff = has_diff | update
            m_next = m64 + (1.0 - keep_level) * (value - m64)
            m = np.where(update, m_next, np.where(first, value, m64)).astype(np.float32)
            last = np.where(finite, value, last64).astype(np.float32)
            has_last = has_last | finite
            # 3. ring, and sigma' for step 4
            pushed[:, t] = last
            relative = RELATIVE_SCALE_FLOOR * last.astype(np.float64)
            sigma_after[:, t] = np.sqrt(s2.astype(np.float64) + relative * relative
                                        + ABSOLUTE_VARIANCE_FLOOR)
            has_last_after[:, t] = has_last
            if trend:   # TickFeatures step 4b, with the season's usability of step 4
                back = t - seasons
                ago_p = pushed[rows1, np.maximum(back, 0)].astype(np.float64)
                usable_now = (seasons > 0) & (back >= 0) & np.isfinite(ago_p)
                slope = np.where(usable_now, (last.astype(np.float64) - ago_p)
                                 / np.maximum(seasons, 1), d)
                tr64 = tr.astype(np.float64)
                tr_next = np.where(has_tr, tr64 + (1.0 - keep_trend) * (slope - tr64), slope)
                tr = np.where(update, tr_next, tr64).astype(np.float32)
                has_tr = has_tr | update
                tr_after[:, t] = tr
                has_tr_after[:, t] = has_tr

        # 4. season and the anchors, from the pushed values, for all columns at once
        rows = np.arange(batch)[:, None]
        columns = np.arange(length)[None, :]
        period = seasons[:, None]                                  # [B, 1]
        season_start = columns - period                            # column of ago(P)
        safe_start = np.maximum(season_start, 0)
        pushed64 = pushed.astype(np.float64)
        ago_season = pushed64[rows, safe_start]                    # [B, T]
        usable = (period > 0) & (season_start >= 0) & np.isfinite(ago_season)
        ago_next = pushed64[rows, np.minimum(safe_start + 1, length - 1)]
        x[:, :, 4] = np.where(usable, _clip((ago_next - ago_season) / sigma_after,
                                               LEVEL_CLAMP) / LEVEL_DIVISOR, 0.0)
        x[:, :, 5] = np.where(usable, 1.0, 0.0)

        steps_ahead = np.arange(1, horizon + 1)
        j = (steps_ahead[None, :] - 1) % np.maximum(seasons[:, None], 1) + 1    # [B, H]
        # ago(P - j) sits at column t - P + j
        index = np.minimum(safe_start[:, :, None] + j[:, None, :], length - 1)  # [B, T, H]
        movement = pushed64[rows[:, :, None], index] - ago_season[:, :, None]
        last_after = pushed64[:, :, None]
        anchors = np.where(usable[:, :, None], last_after + movement, last_after)
        anchors = np.broadcast_to(anchors, (batch, length, horizon)).copy()
        if trend:
            x[:, :, 6] = np.where(has_tr_after, _clip(tr_after / sigma_after, TREND_CLAMP)
                                  / TREND_DIVISOR, 0.0)
            sums = trend_sums(spec)
            done = np.where(usable[:, :, None], j[:, None, :], 0)               # [B, T, H]
            steps = sums[steps_ahead][None, None, :] - sums[done]
            anchors = anchors + tr_after[:, :, None] * steps
    anchors[~has_last_after] = np.nan
    sigma_after[~has_last_after] = np.nan
    return BatchFeatures(x.astype(np.float32), anchors, sigma_after, has_last_after)
