#!/usr/bin/env python3
"""Checks the committed real series in data/series/real/ without R (CI runs this).

    /usr/bin/python3 models/train/forecast/check_series.py [--dir DIR]

Every CSV must be listed in index.json and SHA256SUMS, both checksums must match the file, its
dataset must be on the allow-list (allowed_series.py), its rows must match the index (length,
start, frequency grid, missing count), and the folder must stay small. Prints one line per
series and a summary; exit 0 when all pass, 1 otherwise (every failure is printed, not just
the first).
"""
import argparse
import hashlib
import json
import os
import sys
from typing import List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from forecast.allowed_series import allowed_pairs, is_allowed  # noqa: E402
from forecast.real_series import REAL_SERIES_DIR, read_csv  # noqa: E402

# data/series/ is committed; 1 MB keeps clones light. The export is about a quarter of that.
MAX_TOTAL_BYTES = 1_000_000
REQUIRED_FIELDS = ("name", "dataset", "column", "package", "file", "frequency", "start",
                   "length", "missing", "time_unit", "units", "description", "sha256")
# t is written with 10 significant digits, so a time like 1989.083333 is off by < 5e-7.
TIME_TOLERANCE = 1e-6


def sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_sums(path: str, problems: List[str]) -> dict:
    sums = {}
    with open(path, encoding="ascii") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split("  ", 1)
            if len(parts) != 2 or len(parts[0]) != 64:
                problems.append(f"SHA256SUMS:{number}: expected '<64 hex>  <file>', got {line!r}")
                continue
            sums[parts[1]] = parts[0]
    return sums


def check_entry(directory: str, entry: dict, sums: dict, problems: List[str]) -> int:
    """Checks one index entry and its CSV; returns the file's size in bytes (0 if missing)."""
    missing_fields = [k for k in REQUIRED_FIELDS if k not in entry]
    label = entry.get("name", "?")
    if missing_fields:
        problems.append(f"{label}: index.json entry lacks {', '.join(missing_fields)}")
        return 0
    name, dataset, column = entry["name"], entry["dataset"], entry["column"]
    if not is_allowed(entry["package"], dataset):
        problems.append(f"{name}: dataset {entry['package']}::{dataset} is not on the "
                        f"allow-list (allowed_series.py, from ../shared/DATA.md); remove it")
    expected_name = dataset if column is None else f"{dataset}.{column}"
    if name != expected_name or entry["file"] != name + ".csv":
        problems.append(f"{name}: name/file should be {expected_name!r}/{expected_name}.csv")
    path = os.path.join(directory, entry["file"])
    if not os.path.isfile(path):
        problems.append(f"{name}: {entry['file']} is in index.json but missing")
        return 0
    digest = sha256_of(path)
    if digest != entry["sha256"]:
        problems.append(f"{name}: sha256 {digest} differs from index.json's {entry['sha256']}")
    if sums.get(entry["file"]) != digest:
        problems.append(f"{name}: sha256 {digest} differs from SHA256SUMS's "
                        f"{sums.get(entry['file'], 'absent')}")
    try:
        times, values = read_csv(path)
    except ValueError as error:
        problems.append(str(error))
        return os.path.getsize(path)
    missing = int(np.isnan(values).sum())
    if times.size != entry["length"] or missing != entry["missing"]:
        problems.append(f"{name}: {times.size} rows with {missing} NaN; index.json says "
                        f"{entry['length']} with {entry['missing']}")
    if times.size and (np.isnan(values[0]) or np.isnan(values[-1])):
        problems.append(f"{name}: first and last values must be present (trim NA ends)")
    if times.size > 1 and not np.all(np.diff(times) > 0):
        problems.append(f"{name}: line {int(np.argmin(np.diff(times))) + 3}: t does not increase")
    if entry["frequency"] is None:
        # An irregular series (NYSESW: trading days): t must increase, there is no grid.
        return os.path.getsize(path)
    grid = entry["start"] + np.arange(times.size) / entry["frequency"]
    worst = int(np.argmax(np.abs(times - grid))) if times.size else 0
    if times.size and abs(times[worst] - grid[worst]) > TIME_TOLERANCE * max(1.0, abs(grid[worst])):
        problems.append(f"{name}: line {worst + 2}: t={times[worst]!r} is off the grid "
                        f"start + i / frequency = {grid[worst]!r}")
    return os.path.getsize(path)


def check(directory: str) -> List[str]:
    problems: List[str] = []
    with open(os.path.join(directory, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    sums = read_sums(os.path.join(directory, "SHA256SUMS"), problems)
    entries = index["series"]
    indexed_files = {e.get("file") for e in entries}
    for file_name in sorted(os.listdir(directory)):
        if file_name.endswith(".csv") and file_name not in indexed_files:
            problems.append(f"{file_name}: not in index.json; only allowed, indexed series "
                            f"may sit in {directory}")
    for file_name in sorted(set(sums) - indexed_files):
        problems.append(f"SHA256SUMS lists {file_name}, which index.json does not")

    total_bytes = 0
    for entry in entries:
        size = check_entry(directory, entry, sums, problems)
        total_bytes += size
        print(f"  {entry.get('name', '?'):28s} {entry.get('package', '?'):9s} "
              f"n={entry.get('length', 0):5d} freq={str(entry.get('frequency')):<6s} "
              f"missing={entry.get('missing', 0):<3d} {size:7d} B")
    for file_name in os.listdir(directory):
        if not file_name.endswith(".csv"):
            total_bytes += os.path.getsize(os.path.join(directory, file_name))
    if total_bytes > MAX_TOTAL_BYTES:
        problems.append(f"{directory}: {total_bytes} bytes, over the {MAX_TOTAL_BYTES} limit")

    exported = {e.get("dataset") for e in entries}
    absent = [f"{p}::{d}" for p, d in allowed_pairs() if d not in exported]
    datasets = len(exported)
    print(f"{len(entries)} series from {datasets} datasets, {total_bytes} bytes, "
          f"{sum(1 for e in entries if sums.get(e.get('file')) == e.get('sha256'))} checksums "
          f"verified against SHA256SUMS and index.json")
    if absent:
        # Not a failure: an allowed dataset may be left out (e.g. a package was unavailable).
        print(f"allowed but not exported: {', '.join(absent)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=REAL_SERIES_DIR, help="folder with index.json")
    args = parser.parse_args()
    problems = check(args.dir)
    for problem in problems:
        print("FAIL", problem)
    print("FAIL" if problems else "OK", f"({len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
