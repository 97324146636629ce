#!/usr/bin/env python3
"""The real series the forecaster may use, the one place they are written down.

../shared/DATA.md (the project's data policy) allows exactly these R datasets for training;
every other real series is reserved for evaluation by others and must not appear in
data/series/real/. check_series.py refuses any CSV whose dataset is not listed here, and
export_r_series.R reads this list (run this file to print it) instead of keeping its own copy.

A multivariate dataset is exported one CSV per column, named "<dataset>.<column>"; the
allow-list is about datasets, so every column of a listed dataset is allowed.

    /usr/bin/python3 models/train/forecast/allowed_series.py     # prints "package dataset" lines
"""
from typing import Dict, Tuple

# R package -> datasets from it. Order is the export order and the order of index.json.
ALLOWED_DATASETS: Dict[str, Tuple[str, ...]] = {
    "datasets": ("AirPassengers", "JohnsonJohnson", "nhtemp", "uspop", "airmiles",
                 "discoveries", "presidents", "lh", "BJsales", "freeny"),
    "forecast": ("gas", "gold", "taylor", "woolyrnq"),
    "tseries": ("bev", "camp", "ice.river", "NelPlo"),
    "AER": ("DutchSales", "FrozenJuice", "NYSESW", "ChinaIncome"),
}


def allowed_pairs() -> Tuple[Tuple[str, str], ...]:
    """(package, dataset) for every allowed dataset, in export order."""
    return tuple((package, dataset) for package, names in ALLOWED_DATASETS.items()
                 for dataset in names)


def package_of(dataset: str) -> str:
    """The R package an allowed dataset comes from; KeyError names the dataset otherwise."""
    for package, names in ALLOWED_DATASETS.items():
        if dataset in names:
            return package
    raise KeyError(f"dataset {dataset!r} is not on the allow-list of ../shared/DATA.md "
                   f"(models/train/forecast/allowed_series.py)")


def is_allowed(package: str, dataset: str) -> bool:
    return dataset in ALLOWED_DATASETS.get(package, ())


if __name__ == "__main__":
    for package_name, dataset_name in allowed_pairs():
        print(package_name, dataset_name)
