#!/usr/bin/env python3
"""Which allowed real series are held out for the forecaster's own scores, and the rolling-origin
rule they are scored with. Fixed now, before any model exists, so no choice here can follow
from results.

Whole datasets are held out (every column of a multivariate one): columns of one dataset share
their calendar and shocks, so training on one column would leak the others' test period. A
held-out series is never used for training, tuning, model selection or normalisation
statistics; the rolling origin below is for scoring only. Training uses training_series().

Held out: 7 of the 22 allowed datasets (about a third), covering what the forecaster must do:

- seasonal:  gas (monthly, strong seasonality on a trend with a level change in the 1970s),
             JohnsonJohnson (quarterly, exponential trend with growing seasonal swing);
- trending:  bev (370 years of a wheat price index: long swings, no season),
             FrozenJuice (monthly orange-juice price with freeze-driven jumps, and the price
             index and freezing degree days that go with it);
- noisy level, hard to beat naive: nhtemp (annual temperature);
- random-walk-like: gold (daily price with missing days: the price case; NYSESW, the other
             price series, stays in training so training still sees market data),
             BJsales (sales with the ARIMA(0,1,1) behaviour of Box and Jenkins' example).

Training keeps the rest, including the long and varied AirPassengers, taylor (half-hourly
demand, the only high-frequency seasonality), camp, ice.river, NelPlo and NYSESW.

Rolling origin: fit on the first 80 % of a series (FIT_FRACTION), then stream the rest one tick
at a time and forecast horizons 1..H after every tick, the first forecast made at the last fit
tick. Targets past the end are not scored; missing targets (NaN in the CSV) are skipped.

    /usr/bin/python3 models/train/forecast/heldout.py     # prints both lists and the split sizes
"""
import os
import sys
from typing import Dict, Iterator, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from forecast.allowed_series import ALLOWED_DATASETS, package_of  # noqa: E402

FIT_FRACTION = 0.8

HELDOUT_DATASETS: Tuple[str, ...] = ("gas", "JohnsonJohnson", "bev", "FrozenJuice", "nhtemp",
                                     "gold", "BJsales")

# The series each held-out dataset is scored on. FrozenJuice's ppi and fdd are held out with
# its price but not scored: fdd is zero most months (sMAPE undefined) and ppi is a deflator.
EVAL_TARGETS: Dict[str, Tuple[str, ...]] = {
    "gas": ("gas",), "JohnsonJohnson": ("JohnsonJohnson",), "bev": ("bev",),
    "FrozenJuice": ("FrozenJuice.price",), "nhtemp": ("nhtemp",), "gold": ("gold",),
    "BJsales": ("BJsales",),
}

# Scored as random walks (the rule): the last value is the best point forecast, so the
# model is judged on pinball loss and 80 % coverage, not on beating seasonal naive.
RANDOM_WALK_TARGETS: Tuple[str, ...] = ("gold", "BJsales")


def dataset_of(series_name: str) -> str:
    """'NelPlo.cpi' -> 'NelPlo'; dataset names may hold dots themselves ('ice.river')."""
    for names in ALLOWED_DATASETS.values():
        for dataset in names:
            if series_name == dataset or series_name.startswith(dataset + "."):
                return dataset
    raise KeyError(f"series {series_name!r} belongs to no allowed dataset")


def is_heldout(series_name: str) -> bool:
    return dataset_of(series_name) in HELDOUT_DATASETS


def training_series(all_series_names: List[str]) -> List[str]:
    """The series a model may train on: every exported series whose dataset is not held out."""
    return [name for name in all_series_names if not is_heldout(name)]


def eval_series() -> List[str]:
    return [name for dataset in HELDOUT_DATASETS for name in EVAL_TARGETS[dataset]]


def fit_length(length: int) -> int:
    """Points in the fit part: the first 80 %, rounded down, at least 1 and leaving at least 1."""
    if length < 2:
        raise ValueError(f"a series of {length} points cannot be split")
    return min(max(1, int(length * FIT_FRACTION)), length - 1)


def rolling_origins(length: int, horizon: int) -> Iterator[Tuple[int, List[int]]]:
    """(origin, target indices): after seeing points 0..origin, forecast origin+1..origin+h for
    h = 1..horizon, dropping targets past the end. Origins run from the last fit point to the
    second-to-last point."""
    if horizon < 1:
        raise ValueError(f"horizon {horizon} must be at least 1")
    for origin in range(fit_length(length) - 1, length - 1):
        yield origin, list(range(origin + 1, min(origin + horizon, length - 1) + 1))


def _check_consistent() -> None:
    for dataset in HELDOUT_DATASETS:
        package_of(dataset)   # raises if a held-out name is not an allowed dataset
        if dataset not in EVAL_TARGETS:
            raise KeyError(f"held-out dataset {dataset!r} has no EVAL_TARGETS entry")
    for name in RANDOM_WALK_TARGETS:
        if name not in eval_series():
            raise KeyError(f"random-walk target {name!r} is not an evaluation target")


_check_consistent()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from real_series import load_index  # noqa: E402
    index = load_index()
    names = [entry["name"] for entry in index]
    lengths = {entry["name"]: entry["length"] for entry in index}
    print(f"held-out datasets ({len(HELDOUT_DATASETS)} of "
          f"{sum(len(v) for v in ALLOWED_DATASETS.values())}): {', '.join(HELDOUT_DATASETS)}")
    for name in eval_series():
        n = lengths[name]
        kind = "random walk" if name in RANDOM_WALK_TARGETS else "scored against seasonal naive"
        print(f"  {name:20s} length {n:5d}  fit {fit_length(n):5d}  streamed {n - fit_length(n):4d}"
              f"  ({kind})")
    train = training_series(names)
    print(f"training series ({len(train)} of {len(names)}): {', '.join(train)}")
