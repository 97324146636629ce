#!/usr/bin/env python3
"""Scores cross-validation runs (cv_sweep.sh; RECIPE.md, "Cross-validation over the training
datasets"): each fold's model is backtested on the series its training left out, with
backtest.py's rolling origin and the torch reference engine, and set beside the baselines of
one backtest.py run over the training series.

    /usr/bin/python3 models/train/forecast/backtest.py --series <the 35 training series> \\
        --engines naive snaive ets --json BASELINES.json
    /usr/bin/python3 models/train/forecast/cv_score.py RUNS_DIR BASELINES.json \\
        --runs A_s1 A_s2 B_s1 B_s2 [--folds 3] [--json OUT.json] > table.md

RUNS_DIR/<run>_f<I>/forecaster.safetensors is fold I's model of <run>. The CV score of a run is
the mean MASE over the left-out series that are not random walks (dataset.CV_RANDOM_WALK),
how many of them it forecasts better than seasonal naive, and its mean against ETS's; random
walks are reported by pinball loss and 80 % coverage.
"""
import argparse
import json
import math
import os
import sys
from typing import Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from forecast import backtest, model_engine  # noqa: E402
from forecast.dataset import CV_RANDOM_WALK, cv_fold_series  # noqa: E402


def score_run(runs_dir: str, run: str, folds: int,
              limit_ticks=None) -> Dict[str, Dict[str, float]]:
    """{series: metrics} for one run, every series scored by the fold model that left it out."""
    results = {}
    for fold in range(folds):
        path = os.path.join(runs_dir, f"{run}_f{fold}", "forecaster.safetensors")
        if not os.path.isfile(path):
            raise SystemExit(f"{path}: missing; did fold {fold} of {run} train and export?")
        model_engine.configure(path)
        for s in backtest.select_series(cv_fold_series(fold, folds)):
            horizon = backtest.default_horizon(s.season)
            accumulator = backtest.backtest_engine(backtest.ENGINES["torch"], s.times, s.values,
                                                   s.season, horizon, limit_ticks)
            results[s.name] = dict(accumulator.metrics(), fold=fold)
            print(f"{run:8s} fold {fold} {s.name:26s} MASE {results[s.name]['mase']:.3f}",
                  file=sys.stderr, flush=True)
    return results


def summary(table: Dict[str, Dict[str, Dict]], names: List[str]) -> Dict[str, Dict[str, float]]:
    other = [n for n in names if n not in CV_RANDOM_WALK]
    walks = [n for n in names if n in CV_RANDOM_WALK]
    out = {}
    for engine, rows in table.items():
        mase = [rows[n]["mase"] for n in other]
        out[engine] = {
            "mase": float(np.mean(mase)), "median_mase": float(np.median(mase)),
            "beats_snaive": int(sum(rows[n]["mase"] < table["snaive"][n]["mase"] for n in other)),
            "series": len(other),
            "rw_pinball": float(np.mean([rows[n]["pinball"] for n in walks])) if walks else math.nan,
            "rw_coverage": float(np.mean([rows[n]["coverage80"] for n in walks])) if walks
            else math.nan,
        }
    ets = out["ets"]["mase"]
    for engine in out:
        out[engine]["to_ets"] = out[engine]["mase"] / ets
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir")
    parser.add_argument("baselines", help="backtest.py --json over the training series")
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--limit-ticks", type=int, help="a smoke run: stop each series early")
    args = parser.parse_args(argv)
    with open(args.baselines, encoding="utf-8") as f:
        baseline = json.load(f)
    names = [name for fold in range(args.folds) for name in cv_fold_series(fold, args.folds)]
    table: Dict[str, Dict[str, Dict]] = {}
    by_name = {s["name"]: s for s in baseline["series"]}
    for engine in ("naive", "snaive", "ets"):
        table[engine] = {n: {k: (math.nan if v is None else v)
                             for k, v in by_name[n]["engines"][engine].items()} for n in names}
    for run in args.runs:
        table[run] = score_run(args.runs_dir, run, args.folds, args.limit_ticks)
    sums = summary(table, names)
    engines = list(table)
    print("| series | fold | " + " | ".join(engines) + " |")
    print("|---|---:|" + "---:|" * len(engines))
    for n in names:
        fold = next(f for f in range(args.folds) if n in cv_fold_series(f, args.folds))
        flag = " (random walk: pinball)" if n in CV_RANDOM_WALK else ""
        key = "pinball" if n in CV_RANDOM_WALK else "mase"
        print(f"| {n}{flag} | {fold} | " + " | ".join(f"{table[e][n][key]:.3f}" for e in engines)
              + " |")
    print()
    print("| engine | CV mean MASE (" + str(sums['ets']['series']) + ") | median | beats snaive | "
          "to ETS | random walks pinball | cov80 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for e in engines:
        r = sums[e]
        print(f"| {e} | {r['mase']:.3f} | {r['median_mase']:.3f} | {r['beats_snaive']} of "
              f"{r['series']} | {r['to_ets']:.3f} | {r['rw_pinball']:.3f} | {r['rw_coverage']:.2f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"summary": sums, "series": table}, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
