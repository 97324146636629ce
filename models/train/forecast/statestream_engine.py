"""The C++ engine as a backtest.py engine: a series run through `statestream forecast`, the
command a user runs, so the backtest scores exactly what the engine emits.

    /usr/bin/python3 models/train/forecast/backtest.py --engines torch statestream \\
        [--statestream build/release/statestream] [--model data/models/forecaster.safetensors]

One command per series: all its ticks go to a temporary tick CSV (docs/ticks.md), stream id
`s`, timestamps as integer nanoseconds converted exactly as the torch engine and training do
(dataset.time_to_ns), values in the shortest text that reads back to the same double, gaps
empty. The command runs once with --horizon H, --season P (the series' season when it is
2..max_season, else 0, as model_engine.py passes it) and --format csv. Its line for tick i is
made from ticks 0..i only (docs/forecast.md, "Order of work per tick"; the state-directory test
splits a file and gets the same lines), so replaying the lines after the harness's observe()
calls gives what a live stream would have got at each origin: forecast() returns the line of
the last tick observed, the first at the last fit tick. observe() checks every tick against
the file the command read, so a harness that fed another series or another order fails loudly.

A series whose times are negative (camp starts in -3435) is shifted by a whole number of
nanoseconds to start at 0, since the grammar has no sign; the features use only time steps,
which the shift leaves exactly as they were.
"""
import json
import math
import os
import subprocess
import tempfile
from typing import Dict, Optional

import numpy as np

from forecast.dataset import season_of, time_to_ns

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
DEFAULT_EXECUTABLE = os.path.join(_REPO, "build", "release", "statestream")
DEFAULT_MODEL = os.path.join(_REPO, "data", "models", "forecaster.safetensors")
STREAM_ID = "s"
_settings = {"executable": DEFAULT_EXECUTABLE, "model_path": DEFAULT_MODEL}
_specs: Dict[str, Dict] = {}


def configure(executable: Optional[str] = None, model_path: Optional[str] = None) -> None:
    """The statestream binary and the model file it is given (defaults: the release build and
    the shipped forecaster, the torch engine's default too)."""
    _settings["executable"] = executable or DEFAULT_EXECUTABLE
    _settings["model_path"] = model_path or DEFAULT_MODEL


def _forecast_spec(path: str) -> Dict:
    """The model file's `forecast` entry, read once: max_season decides the --season given."""
    if path not in _specs:
        from safetensors_io import read_safetensors
        if not os.path.isfile(path):
            raise SystemExit(f"{path}: no model file there; pass --model")
        metadata, _ = read_safetensors(path)
        if "forecast" not in metadata:
            raise SystemExit(f"{path}: no 'forecast' entry; not a forecasting model file "
                             "(docs/forecast.md)")
        _specs[path] = json.loads(metadata["forecast"])
    return _specs[path]


def _parse_seconds(text: str) -> int:
    """The output's timestamp, seconds with exactly 9 decimals, back to ns without floats."""
    whole, fraction = text.split(".")
    if len(fraction) != 9:
        raise ValueError(f"timestamp {text!r} has not 9 decimals")
    return int(whole) * 1_000_000_000 + int(fraction)


class StatestreamEngine:
    """backtest.Engine over one series, replaying one `statestream forecast` run."""

    def __init__(self, executable: str, model_path: str, times: np.ndarray, values: np.ndarray,
                 fit: int, season: int, horizon: int, adapt: bool = True):
        spec = _forecast_spec(model_path)
        if horizon > int(spec["horizon"]):
            raise ValueError(f"horizon {horizon} is beyond the model's {spec['horizon']}; run "
                             f"backtest.py with --horizon {spec['horizon']} or less")
        if not os.access(executable, os.X_OK):
            raise SystemExit(f"{executable}: no statestream binary there; build it with "
                             "`cmake --build --preset release --target statestream` or pass "
                             "--statestream")
        self.horizon = horizon
        self.values = np.asarray(values, dtype=float)
        self.times_ns = time_to_ns(times)
        model_season = season_of(season, int(spec["max_season"]))
        shift = max(0, -int(self.times_ns.min())) if self.times_ns.size else 0
        with tempfile.TemporaryDirectory(prefix="statestream-backtest-") as folder:
            ticks = os.path.join(folder, "ticks.csv")
            with open(ticks, "w", encoding="ascii") as f:
                f.write("stream_id,timestamp,value\n")
                for t_ns, value in zip(self.times_ns, self.values):
                    f.write(f"{STREAM_ID},{int(t_ns) + shift},"
                            f"{'' if math.isnan(value) else repr(float(value))}\n")
            command = [executable, "forecast", "--input", ticks, "--model", model_path,
                       "--horizon", str(horizon), "--season", str(model_season),
                       "--format", "csv"] + ([] if adapt else ["--no-adapt"])
            run = subprocess.run(command, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {run.returncode}:\n"
                               f"{run.stderr[-2000:]}")
        self.quantiles = self._read_lines(run.stdout, shift)
        self.seen = fit
        self.description = (f"{os.path.basename(executable)} season {model_season}"
                            f"{'' if adapt else ' no-adapt'}")

    def _read_lines(self, text: str, shift: int) -> np.ndarray:
        """[ticks, H, 3] q10/q50/q90 per tick; NaN for the ticks before the first finite value,
        which have no line. Checks that the lines are those ticks, in order."""
        lines = text.splitlines()
        H = self.horizon
        expected = ["stream_id", "timestamp", "value"] + [f"q{q}_h{h}" for h in range(1, H + 1)
                                                          for q in (10, 50, 90)]
        if not lines or lines[0].split(",") != expected:
            raise RuntimeError(f"statestream forecast: unexpected header {lines[:1]}")
        finite = np.flatnonzero(~np.isnan(self.values))
        first = int(finite[0]) if finite.size else self.values.size
        if len(lines) - 1 != self.values.size - first:
            raise RuntimeError(f"statestream forecast wrote {len(lines) - 1} lines for "
                               f"{self.values.size - first} ticks from the first value on")
        quantiles = np.full((self.values.size, H, 3), math.nan)
        for index, line in enumerate(lines[1:], start=first):
            fields = line.split(",")
            if fields[0] != STREAM_ID or \
                    _parse_seconds(fields[1]) != int(self.times_ns[index]) + shift:
                raise RuntimeError(f"line {index + 2} is not tick {index}: {line[:80]}")
            quantiles[index] = np.array(fields[3:], dtype=float).reshape(H, 3)
        return quantiles

    def forecast(self) -> np.ndarray:
        latest = self.quantiles[self.seen - 1]
        if np.isnan(latest).any():
            raise RuntimeError("no finite value seen yet: the engine emits no forecast")
        return latest

    def observe(self, time_value: float, value: float) -> None:
        if self.seen >= self.values.size:
            raise RuntimeError("observed a tick past the end of the series the command ran")
        t_ns = int(time_to_ns(np.array([time_value]))[0])
        expected = float(self.values[self.seen])
        if t_ns != int(self.times_ns[self.seen]) or not (
                value == expected or (math.isnan(value) and math.isnan(expected))):
            raise RuntimeError(f"observed tick {self.seen} ({time_value}, {value}) is not the "
                               f"file's ({self.times_ns[self.seen]} ns, {expected})")
        self.seen += 1


def make_engine(times: np.ndarray, values: np.ndarray, fit: int, season: int, horizon: int,
                adapt: bool = True) -> StatestreamEngine:
    """backtest.WholeSeriesFactory.build for the configured binary and model file."""
    return StatestreamEngine(_settings["executable"], _settings["model_path"], times, values,
                             fit, season, horizon, adapt)
