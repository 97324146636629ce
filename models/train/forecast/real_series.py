#!/usr/bin/env python3
"""Reading the exported real series (data/series/real/, written by export_r_series.R). numpy only.

    from forecast.real_series import load_index, load_series
    entry = load_index()[0]             # one dict per series, as in index.json
    series = load_series("gold")        # RealSeries: times, values (NaN = missing), entry

The CSV format (README.md says it in full): a header line "t,value", then one line per
observation on the series' regular grid, t in the series' time unit (decimal years for yearly,
quarterly and monthly data; weeks, days or observation numbers otherwise), value with up to 15
significant digits, "NaN" where R had NA inside the series (kept, so the grid stays regular and a
reader can turn it into a gap).
"""
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
REAL_SERIES_DIR = os.path.join(REPO_ROOT, "data", "series", "real")
CSV_HEADER = "t,value"


@dataclass
class RealSeries:
    name: str
    times: np.ndarray      # float64, strictly increasing
    values: np.ndarray     # float64, NaN where missing
    entry: Dict[str, object]


def load_index(directory: Optional[str] = None) -> List[Dict[str, object]]:
    """index.json's series list, in export order."""
    with open(os.path.join(directory or REAL_SERIES_DIR, "index.json"), encoding="utf-8") as f:
        return json.load(f)["series"]


def read_csv(path: str) -> tuple:
    """(times, values) of one series CSV; ValueError naming the file and line on a bad line."""
    with open(path, encoding="ascii") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != CSV_HEADER:
        raise ValueError(f"{path}:1: header is {lines[0]!r} if any, expected {CSV_HEADER!r}")
    times = np.empty(len(lines) - 1)
    values = np.empty(len(lines) - 1)
    for row, line in enumerate(lines[1:]):
        fields = line.split(",")
        try:
            if len(fields) != 2:
                raise ValueError(f"{len(fields)} fields")
            times[row] = float(fields[0])
            values[row] = float(fields[1])
        except ValueError as error:
            raise ValueError(f"{path}:{row + 2}: cannot read {line!r} as t,value ({error})") \
                from None
        if not np.isfinite(times[row]) or np.isinf(values[row]):
            raise ValueError(f"{path}:{row + 2}: t must be finite and value finite or NaN: "
                             f"{line!r}")
    return times, values


def load_series(name: str, directory: Optional[str] = None) -> RealSeries:
    for entry in load_index(directory):
        if entry["name"] == name:
            times, values = read_csv(os.path.join(directory or REAL_SERIES_DIR,
                                                  str(entry["file"])))
            return RealSeries(name, times, values, entry)
    raise KeyError(f"no series {name!r} in {os.path.join(directory or REAL_SERIES_DIR, 'index.json')}")
