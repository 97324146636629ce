"""Training examples for the stream forecaster: random crops of real training series and seeded
synthetic series, turned into exactly the features the engine computes (features.batch_features)
and the targets the quantile head is trained on. numpy only.

    from forecast.dataset import load_pool, make_batch
    pool = load_pool(synthetic_seed=1000, synthetic_count=600)
    batch = make_batch(pool, np.random.default_rng([seed, step]), batch=64, crop=256)
    batch["x"] [B, L, 6] float32, batch["target"] [B, L, H] float32, batch["mask"] [B, L, H] bool

Sources. Real: heldout.training_series() only; a held-out dataset is refused even if asked for
(they score the model and must not shape it). Synthetic: synthetic.generate_many() with seeds
from 1000 up; backtest.py scores synthetic series of seed 1, and generate_many's children of
different seeds are different streams of draws, so no scored series is trained on.

A crop is one stream from a fresh start: it begins at any tick, runs up to `crop` ticks (a
series shorter than that is taken whole) and is padded to the batch's length with masked gap
ticks. Its values are scaled by a random positive factor and, half the time, shifted by a random
offset (the features and targets are meant to be invariant to both, except through sigma's
0.1 % relative floor and float32 rounding, which the model must see as the engine will), then
rounded to float32, so the engine's reading of a value as float or double changes nothing. The
season is the series' own (index.json's integer frequency for real series, the generator's
shortest period for regular synthetic ones) when it is 2..max_season, given with probability
SEASON_PROBABILITY; otherwise 0, so the model also learns seasonal series without a season.

Targets, for every tick t of the crop and h = 1..H: (v[t + h] - b_h) / sigma' with the tick's
anchors b_h and scale sigma' (features.py), clipped to +-TARGET_CLIP. v[t + h] may lie past the
crop's end (the series goes on; the forecast is still scored there). Masked: ticks of padding,
ticks before the stream's first value (no forecast), targets past the series' end or missing.
Times are the series' own t converted to int64 ns as round(t * 1e9) (time_to_ns): only ratios
of time steps enter the features, so the unit does not matter.
"""
import math
import os
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from forecast import heldout  # noqa: E402
from forecast.features import batch_features  # noqa: E402
from forecast.forecaster import FORECAST_SPEC  # noqa: E402
from forecast.real_series import load_index, load_series  # noqa: E402
from forecast.synthetic import generate_many  # noqa: E402

CROP_TICKS = 256
TARGET_CLIP = 50.0           # in units of sigma': a level shift or spike past this says nothing
                             # more about the quantiles, and would dominate the loss
SEASON_PROBABILITY = 0.8
REAL_PROBABILITY = 0.5       # half the crops from the 35 real training series, picked uniformly
SCALE_DECADES = (-3.0, 3.0)  # the random factor is 10^U(-3, 3)
OFFSET_PROBABILITY = 0.5
OFFSET_DECADES = (0.0, 2.5)  # offset = N(0, 1) 10^U(0, 2.5) times the crop's spread
MIN_SYNTHETIC_SEED = 1000    # backtest.SYNTHETIC_SEED is 1
SYNTHETIC_LENGTH = 1200


@dataclass
class PoolSeries:
    name: str
    times_ns: np.ndarray     # int64, non-decreasing
    values: np.ndarray       # float64, NaN where missing
    season: int              # 0 or 2..max_season: what a user would give the engine


@dataclass
class Pool:
    real: List[PoolSeries]
    synthetic: List[PoolSeries]


def time_to_ns(times: np.ndarray) -> np.ndarray:
    """A series' own time (decimal years, days, ticks) to int64 ns: round(t * 1e9). The product
    is exact to well under a nanosecond for |t| < 4e6 (float64's 53 bits), so rounding gives
    the same integers everywhere; model_engine.py converts the same way."""
    scaled = np.asarray(times, dtype=np.float64) * 1e9
    if not np.all(np.abs(scaled) < 2.0 ** 62):
        raise ValueError("times too large for int64 nanoseconds")
    return np.rint(scaled).astype(np.int64)


def season_of(frequency: Optional[float], max_season: int) -> int:
    """An integer frequency 2..max_season is the season; anything else (none, fractional, 1,
    or longer than the ring holds: taylor's 336, ice.river's 365) is 0."""
    if frequency is None or not float(frequency).is_integer():
        return 0
    period = int(frequency)
    return period if 2 <= period <= max_season else 0


# Training datasets set apart for development runs (`train.py --dev`): the model's choices (size,
# crop length, steps) are made by backtesting these with the same rolling origin as the
# held-out set, so the held-out series are scored only by the finished model. Fixed before any
# development run, to resemble the held-out kinds: monthly and quarterly seasonal series with
# trends, a yearly trend, a noisy level and a market price. The shipped model trains on them too.
DEV_DATASETS = ("AirPassengers", "woolyrnq", "uspop", "lh", "presidents", "NYSESW")
DEV_RANDOM_WALK = ("NYSESW",)


# Cross-validation over the training datasets (train.py --exclude-fold I/K): each dataset's
# series stay together, as the held-out split keeps them, and the folds are a permutation of the
# sorted dataset names by a seed fixed before any cross-validation run. Prices are scored as
# random walks (pinball and coverage), like heldout.RANDOM_WALK_TARGETS.
CV_SEED = 20260310
CV_RANDOM_WALK = ("NYSESW", "NelPlo.stock.prices")


def training_datasets() -> List[str]:
    names = heldout.training_series([str(entry["name"]) for entry in load_index()])
    return sorted({heldout.dataset_of(name) for name in names})


def cv_folds(folds: int, seed: int = CV_SEED) -> List[List[str]]:
    """The training datasets in `folds` groups: fold i is every folds-th dataset of a seeded
    permutation, starting at i."""
    datasets = training_datasets()
    if not 2 <= folds <= len(datasets):
        raise ValueError(f"{folds} folds: must be 2..{len(datasets)}")
    order = np.random.default_rng(seed).permutation(len(datasets))
    return [sorted(datasets[k] for k in order[i::folds]) for i in range(folds)]


def cv_fold_series(fold: int, folds: int, seed: int = CV_SEED) -> List[str]:
    """The training series a fold leaves out (and its backtest scores)."""
    chosen = set(cv_folds(folds, seed)[fold])
    names = heldout.training_series([str(entry["name"]) for entry in load_index()])
    return [name for name in names if heldout.dataset_of(name) in chosen]


def real_training_series(max_season: int = FORECAST_SPEC["max_season"],
                         exclude_datasets=()) -> List[PoolSeries]:
    names = heldout.training_series([str(entry["name"]) for entry in load_index()])
    out = []
    for name in names:
        if heldout.dataset_of(name) in exclude_datasets:
            continue
        if heldout.is_heldout(name):   # training_series() never returns one; kept as a guard
            raise AssertionError(f"{name} is held out")
        loaded = load_series(name)
        out.append(PoolSeries(name, time_to_ns(loaded.times), loaded.values,
                              season_of(loaded.entry.get("frequency"), max_season)))
    return out


def synthetic_training_series(seed: int, count: int, length: int = SYNTHETIC_LENGTH,
                              max_season: int = FORECAST_SPEC["max_season"]) -> List[PoolSeries]:
    """generate_many(seed, ...) and generate_many(seed + 1, ...), every kind it has in turn; the
    season only on a regular grid (with irregular spacing or gaps a lag of P ticks is not one
    period)."""
    if seed < MIN_SYNTHETIC_SEED:
        raise ValueError(f"synthetic seed {seed} < {MIN_SYNTHETIC_SEED}: low seeds are "
                         "backtest.py's scored series")
    # Half the series on a regular grid more often than generate_many's default (30 % each
    # irregular and gapped), so that seasonal series with a usable season are not rare.
    regular_heavy = generate_many(seed + 1, count - count // 2, length,
                                  irregular_fraction=0.1, gap_fraction=0.1)
    out = []
    for index, item in enumerate(generate_many(seed, count // 2, length) + regular_heavy):
        regular = bool(np.all(np.diff(item.timestamps) == 1.0))
        periods = item.params.get("periods") or []
        shortest = min(periods) if periods and regular else None
        out.append(PoolSeries(f"synthetic{seed}.{index}.{item.kind}", time_to_ns(item.timestamps),
                              item.values, season_of(shortest, max_season)))
    return out


def load_pool(synthetic_seed: int = MIN_SYNTHETIC_SEED, synthetic_count: int = 600,
              synthetic_length: int = SYNTHETIC_LENGTH, exclude_datasets=()) -> Pool:
    return Pool(real_training_series(exclude_datasets=exclude_datasets),
                synthetic_training_series(synthetic_seed, synthetic_count, synthetic_length))


def make_batch(pool: Pool, rng: np.random.Generator, batch: int, crop: int = CROP_TICKS,
               spec: Dict = FORECAST_SPEC) -> Dict[str, np.ndarray]:
    """`batch` random crops (module docstring): x [B, L, 6] float32, target [B, L, H] float32,
    mask [B, L, H] bool, lengths [B] int64, seasons [B] int64; L = the longest crop drawn."""
    horizon = int(spec["horizon"])
    picks = []
    for _ in range(batch):
        use_real = bool(pool.real) and (not pool.synthetic or rng.random() < REAL_PROBABILITY)
        source = pool.real if use_real else pool.synthetic
        series = source[int(rng.integers(len(source)))]
        n = series.values.size
        if n <= crop:
            start, length = 0, n
        else:
            start = int(rng.integers(0, n - 1))     # any tick with at least one after it
            length = min(crop, n - start)
        values = series.values[start:start + length + horizon]
        spread = float(np.nanstd(values[:length])) if np.isfinite(values[:length]).any() else 0.0
        spread = spread if spread > 0 else 1.0
        offset = 0.0
        if rng.random() < OFFSET_PROBABILITY:
            offset = float(rng.normal()) * 10.0 ** rng.uniform(*OFFSET_DECADES) * spread
        factor = 10.0 ** rng.uniform(*SCALE_DECADES)
        values = ((values + offset) * factor).astype(np.float32).astype(np.float64)
        season = series.season if rng.random() < SEASON_PROBABILITY else 0
        picks.append((series.times_ns[start:start + length], values, length, season))

    width = max(length for _, _, length, _ in picks)
    times = np.zeros((batch, width), dtype=np.int64)
    ticks = np.full((batch, width), np.nan)
    future = np.full((batch, width + horizon), np.nan)   # v at column t, for targets t + h
    lengths = np.zeros(batch, dtype=np.int64)
    seasons = np.zeros(batch, dtype=np.int64)
    for row, (row_times, values, length, season) in enumerate(picks):
        times[row, :length] = row_times
        times[row, length:] = row_times[-1]           # padding: equal timestamps, gap ticks
        ticks[row, :length] = values[:length]
        future[row, :values.size] = values
        lengths[row] = length
        seasons[row] = season
    features = batch_features(times, ticks, seasons, spec)
    ahead = np.lib.stride_tricks.sliding_window_view(future, horizon, axis=1)[:, 1:width + 1]
    with np.errstate(invalid="ignore"):
        target = (ahead - features.anchors) / features.sigma[:, :, None]
    inside = np.arange(width)[None, :] < lengths[:, None]
    mask = np.isfinite(target) & (inside & features.has_last)[:, :, None]
    target = np.where(mask, np.clip(target, -TARGET_CLIP, TARGET_CLIP), 0.0)
    return {"x": features.x, "target": target.astype(np.float32), "mask": mask,
            "lengths": lengths, "seasons": seasons}


def naive_pinball(batch: Dict[str, np.ndarray], quantiles=FORECAST_SPEC["quantiles"]) -> float:
    """The loss of predicting every quantile at the anchor (z = 0): the floor a model must go
    under to have learnt anything beyond seasonal naive."""
    target = batch["target"][batch["mask"]].astype(np.float64)
    return float(np.mean([np.mean(np.maximum(q * target, (q - 1.0) * target))
                          for q in quantiles]))


def summarise(pool: Pool) -> str:
    real_ticks = sum(s.values.size for s in pool.real)
    synthetic_ticks = sum(s.values.size for s in pool.synthetic)
    seasonal = sum(1 for s in pool.real + pool.synthetic if s.season)
    return (f"{len(pool.real)} real training series ({real_ticks} ticks), "
            f"{len(pool.synthetic)} synthetic ({synthetic_ticks} ticks); {seasonal} with a season")


if __name__ == "__main__":
    pool = load_pool(synthetic_count=12)
    print(summarise(pool))
    sample = make_batch(pool, np.random.default_rng(1), 16)
    print({k: v.shape for k, v in sample.items()}, "targets", int(sample["mask"].sum()),
          "naive pinball", round(naive_pinball(sample), 4))
    print("real:", ", ".join(f"{s.name}:{s.season}" for s in pool.real))
    assert all(math.isfinite(v) for v in sample["target"].reshape(-1))
