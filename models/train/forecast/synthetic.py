#!/usr/bin/env python3
"""Seeded synthetic series for the forecaster: as many as training wants, at no cost to the
held-out real series. numpy only.

Two kinds, each a (timestamps, values) pair with a label:

- "seasonal_trend": a piecewise-linear trend whose slope, noise level and seasonal amplitude
  switch at regime changes, one or two seasonal cycles (a few harmonics each), level shifts and
  one-tick spikes (jumps), AR(1) noise; sometimes multiplicative (seasonal swing grows with the
  level, as in airline traffic).
- "price": a random-walk log price whose returns have GARCH(1,1) volatility clustering, plus
  rare jumps; the last value is the best point forecast, so a model is judged on its quantiles.

Timestamps count ticks of a base grid (1.0 apart when regular). Asked for, they can be
irregular (gamma-distributed spacing, mean 1) and have gaps (whole blocks of ticks missing).
Every component is evaluated at the actual timestamps (trend and seasonality are functions of
time; noise memory and volatility decay with the elapsed time), so an irregular series is the
same process sampled unevenly, not a regular one with relabelled times.

    from forecast.synthetic import generate, generate_many
    s = generate("price", seed=3, length=2000, irregular=True, gaps=True)
    s.timestamps, s.values, s.kind

The same (kind, seed, length, options) always gives the same series, on any machine with the
same numpy bit generator (PCG64).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import numpy as np

KINDS = ("seasonal_trend", "price")
_KIND_CODE = {"seasonal_trend": 1, "price": 2}   # mixed into the seed so kinds never share draws

# Seasonal periods in ticks: week of days, year of months, day of hours, year of weeks, day of
# quarter-hours, week of half-hours (the electricity-demand shape).
SEASONAL_PERIODS = (7.0, 12.0, 24.0, 52.0, 96.0, 336.0)
# Mean ticks between regime switches, level shifts and price jumps. At 1000 ticks that is about
# 2.5 switches and 2 shifts per seasonal series: enough to see each, few enough that the
# seasonal shape can still be learned between them.
REGIME_MEAN_TICKS = 400.0
LEVEL_SHIFT_MEAN_TICKS = 500.0
PRICE_JUMP_MEAN_TICKS = 1000.0
# Gaps are blocks of missing ticks, long enough (>= 5 ticks) that a model must notice the time
# delta, short enough (<= 60) that the series stays one series.
GAP_TICKS_RANGE = (5, 60)
GAP_MEAN_TICKS = 300.0


@dataclass
class SyntheticSeries:
    """One generated series: timestamps strictly increasing (float64, base-grid ticks), values
    float64 of the same length, kind one of KINDS, params the drawn settings (for the record)."""
    kind: str
    seed: int
    timestamps: np.ndarray
    values: np.ndarray
    params: Dict[str, object] = field(default_factory=dict)


def generate(kind: str, seed: int, length: int = 1000, irregular: bool = False,
             gaps: bool = False, volatility_clustering: bool = True) -> SyntheticSeries:
    """One series of `length` points. `irregular`: gamma spacing instead of a regular grid;
    `gaps`: at least one block of missing ticks; `volatility_clustering` (price only): False
    gives constant volatility, the control for tests of clustering."""
    if kind not in _KIND_CODE:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    if length < 16:
        raise ValueError(f"length {length} is too short; need at least 16 points")
    rng = np.random.default_rng([int(seed), _KIND_CODE[kind]])
    timestamps, time_params = _timestamps(rng, length, irregular, gaps)
    if kind == "seasonal_trend":
        values, params = _seasonal_trend(rng, timestamps)
    else:
        values, params = _price(rng, timestamps, volatility_clustering)
    params.update(time_params)
    return SyntheticSeries(kind, int(seed), timestamps, values, params)


def generate_many(seed: int, count: int, length: int = 1000,
                  kinds: Sequence[str] = KINDS, irregular_fraction: float = 0.3,
                  gap_fraction: float = 0.3) -> List[SyntheticSeries]:
    """`count` series with kinds taken in turn from `kinds` and irregular timing / gaps drawn
    with the given probabilities. Series i depends only on (seed, i), so asking for more
    series does not change the first ones."""
    series = []
    for index in range(count):
        child_seed = int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0])
        choice = np.random.default_rng([int(seed), index, 0])
        series.append(generate(kinds[index % len(kinds)], child_seed, length,
                               irregular=bool(choice.random() < irregular_fraction),
                               gaps=bool(choice.random() < gap_fraction)))
    return series


def squared_return_autocorrelation(values: np.ndarray, lag: int = 1) -> float:
    """Autocorrelation at `lag` of squared log returns: near 0 for constant volatility, clearly
    positive when calm and turbulent stretches cluster."""
    returns = np.diff(np.log(values))
    squared = returns ** 2 - np.mean(returns ** 2)
    denominator = float(np.dot(squared, squared))
    if denominator == 0.0:
        return 0.0
    return float(np.dot(squared[:-lag], squared[lag:]) / denominator)


# --- Code beyond this point is implementation detail -------------------------------------------


def _timestamps(rng: np.random.Generator, length: int, irregular: bool,
                gaps: bool) -> tuple:
    """Strictly increasing times of `length` points, starting at 0."""
    params: Dict[str, object] = {"irregular": irregular, "gaps": gaps}
    gap_blocks: List[tuple] = []
    total = length
    if gaps:
        gap_count = 1 + rng.poisson(length / GAP_MEAN_TICKS)
        sizes = rng.integers(GAP_TICKS_RANGE[0], GAP_TICKS_RANGE[1] + 1, size=gap_count)
        total = length + int(sizes.sum())
        # Gap starts away from both ends, so the series opens and closes with data.
        starts = np.sort(rng.choice(np.arange(length // 10, length - length // 10),
                                    size=gap_count, replace=False))
        gap_blocks = [(int(s), int(z)) for s, z in zip(starts, sizes)]
        params["gap_ticks"] = [int(z) for z in sizes]
    if irregular:
        # Shape < 1 gives bursts of close ticks and long waits (market ticks); > 1 gives
        # jittered sampling (sensors); the mean spacing stays 1.
        shape = float(rng.uniform(0.5, 4.0))
        spacing = rng.gamma(shape, 1.0 / shape, size=total)
        spacing = np.maximum(spacing, 1e-3)   # two ticks never share a timestamp
        params["spacing_gamma_shape"] = shape
    else:
        spacing = np.ones(total)
    times = np.concatenate(([0.0], np.cumsum(spacing[1:])))
    keep = np.ones(total, dtype=bool)
    offset = 0
    for start, size in gap_blocks:
        # Blocks are placed on the kept-point index, shifted by the blocks already removed.
        keep[start + offset: start + offset + size] = False
        offset += size
    return times[keep], params


def _seasonal_trend(rng: np.random.Generator, t: np.ndarray) -> tuple:
    n = t.size
    span = float(t[-1] - t[0])
    periods = [float(rng.choice(SEASONAL_PERIODS))]
    if rng.random() < 0.3:
        longer = [p for p in SEASONAL_PERIODS if p >= 3 * periods[0]]
        if longer:
            periods.append(float(rng.choice(longer)))

    # Regimes: times where slope, noise level and seasonal amplitude change together.
    switch_times = np.sort(rng.uniform(t[0], t[-1], size=rng.poisson(span / REGIME_MEAN_TICKS)))
    regime = np.searchsorted(switch_times, t, side="right")
    regime_count = switch_times.size + 1
    slopes = rng.normal(0.0, 0.01, size=regime_count)
    noise_scale = rng.uniform(0.5, 1.5, size=regime_count)
    season_scale = rng.uniform(0.6, 1.4, size=regime_count)

    # Piecewise-linear trend, continuous at the switches: integrate the slope over time.
    edges = np.concatenate(([t[0]], switch_times))
    level_at_edge = np.concatenate(([0.0], np.cumsum(slopes[:-1] * np.diff(edges))))
    trend = level_at_edge[regime] + slopes[regime] * (t - edges[regime])

    seasonal = np.zeros(n)
    for period in periods:
        amplitude = rng.uniform(0.5, 2.0)
        for harmonic in range(1, int(rng.integers(1, 4)) + 1):
            weight = amplitude * rng.uniform(0.2, 1.0) / harmonic
            phase = rng.uniform(0.0, 2.0 * np.pi)
            seasonal += weight * np.sin(2.0 * np.pi * harmonic * t / period + phase)
    seasonal *= season_scale[regime]

    # Level shifts stay; spikes touch one tick (an outlier a forecaster should not chase).
    shifts = np.zeros(n)
    for when in rng.uniform(t[0], t[-1], size=rng.poisson(span / LEVEL_SHIFT_MEAN_TICKS)):
        shifts[t >= when] += rng.normal(0.0, 3.0)
    spike_count = rng.poisson(n / 400.0)
    spikes = np.zeros(n)
    spikes[rng.integers(0, n, size=spike_count)] += rng.normal(0.0, 5.0, size=spike_count)

    # AR(1) noise whose memory decays with elapsed time: phi ** dt between samples.
    phi = rng.uniform(0.0, 0.8)
    noise_sd = rng.uniform(0.2, 0.6)
    innovations = rng.normal(size=n)
    noise = np.empty(n)
    noise[0] = innovations[0]
    dt = np.diff(t)
    for i in range(1, n):
        carry = phi ** dt[i - 1]
        noise[i] = carry * noise[i - 1] + np.sqrt(1.0 - carry * carry) * innovations[i]
    noise *= noise_sd * noise_scale[regime]

    x = trend + seasonal + shifts + spikes + noise
    scale = float(10.0 ** rng.uniform(0.0, 3.0))
    multiplicative = bool(rng.random() < 0.3)
    if multiplicative:
        # exp of a small multiple keeps values positive with a swing proportional to the level.
        values = scale * np.exp(0.1 * x)
    else:
        values = scale * (10.0 + x)
    params = {"periods": periods, "regime_switches": int(switch_times.size), "phi": phi,
              "noise_sd": noise_sd, "multiplicative": multiplicative, "scale": scale,
              "spikes": int(spike_count)}
    return values, params


def _price(rng: np.random.Generator, t: np.ndarray, volatility_clustering: bool) -> tuple:
    n = t.size
    # Per-tick volatility of 0.5 % to 2 %: between a quiet daily stock and a busy crypto tick.
    sigma_unconditional = float(rng.uniform(0.005, 0.02))
    variance_target = sigma_unconditional ** 2
    if volatility_clustering:
        alpha = float(rng.uniform(0.05, 0.15))
        # alpha + beta in 0.90..0.97: persistent like daily equity returns, and
        # 3 alpha^2 + 2 alpha beta + beta^2 < 1 keeps the fourth moment (and the test's
        # autocorrelation of squared returns) finite.
        beta = float(rng.uniform(0.90, 0.97)) - alpha
    else:
        alpha, beta = 0.0, 0.0
    omega = variance_target * (1.0 - alpha - beta)
    drift = float(rng.normal(0.0, 2e-4))

    dt = np.concatenate(([1.0], np.diff(t)))
    shocks = rng.normal(size=n)
    log_returns = np.zeros(n)
    variance = variance_target
    for i in range(1, n):
        if dt[i] > 1.0 and volatility_clustering:
            # Over a gap the excess variance decays as it would have, one tick at a time.
            variance = variance_target + (variance - variance_target) * (alpha + beta) ** (dt[i] - 1.0)
        log_returns[i] = drift * dt[i] + np.sqrt(variance * dt[i]) * shocks[i]
        variance = omega + alpha * variance * shocks[i] ** 2 + beta * variance

    jump_count = rng.poisson((t[-1] - t[0]) / PRICE_JUMP_MEAN_TICKS)
    jump_at = rng.integers(1, n, size=jump_count)
    log_returns[jump_at] += rng.normal(0.0, 5.0 * sigma_unconditional, size=jump_count)

    start_price = float(np.exp(rng.uniform(np.log(10.0), np.log(1000.0))))
    values = start_price * np.exp(np.cumsum(log_returns))
    params = {"sigma": sigma_unconditional, "alpha": alpha, "beta": beta, "drift": drift,
              "jumps": int(jump_count), "start_price": start_price}
    return values, params


def _describe(series: SyntheticSeries) -> str:
    gaps = np.diff(series.timestamps)
    return (f"{series.kind} seed={series.seed} n={series.values.size} "
            f"t=[{series.timestamps[0]:.1f},{series.timestamps[-1]:.1f}] "
            f"max_dt={gaps.max():.2f} min={series.values.min():.3g} max={series.values.max():.3g}")


if __name__ == "__main__":
    for item in generate_many(seed=1, count=6, length=1000):
        print(_describe(item))
