#!/usr/bin/python3
"""Draws one stream of `statestream forecast` output: the values, and for each asked horizon h
the h-step-ahead median with its 80 % band (q10..q90), each drawn at the time of the tick it
forecast (h ticks of that stream after the tick it was made at), so a good forecast lies on the
values. The last tick's forecast for horizons 1..H is drawn past the end as a fan.

    plot_forecast.py FORECAST.csv|.jsonl --stream ID [--ticks INPUT.csv] [--horizon 1,12]
                     --output out.png
    plot_forecast.py --check        (exit 0 when matplotlib is there)

FORECAST is the command's CSV or JSON-lines output (either; told apart by its first character).
--ticks is the tick CSV the command read (docs/ticks.md); its values of the stream are drawn
as the truth, including ticks that got no forecast. Without it the forecast file's own value
column is drawn. Needs Debian's python3-matplotlib (scripts/setup.sh installs it).

Exit codes as the command's: 0 drawn, 1 matplotlib missing, 2 bad input.
"""

import argparse
import json
import math
import statistics
import sys
from datetime import datetime, timezone

# Timestamps past 2001-09-09 (1e9 s) are taken as Unix time and drawn as dates; smaller ones
# are seconds from some other origin (a sensor's uptime) and drawn as seconds.
UNIX_TIME_FROM_S = 1e9


def fail(message, code=2):
    print(f"plot_forecast.py: {message}", file=sys.stderr)
    sys.exit(code)


def parse_timestamp_ns(text):
    """A timestamp of the tick grammar (docs/ticks.md) as int nanoseconds, or None."""
    text = text.strip()
    if text.endswith("ns"):
        digits = text[:-2]
        return int(digits) if digits.isdigit() else None
    seconds = text.endswith("s")
    if seconds:
        text = text[:-1]
    if "." in text:
        whole, _, fraction = text.partition(".")
        if not (whole.isdigit() and fraction.isdigit()):
            return None
        return int(whole) * 1_000_000_000 + int((fraction + "000000000")[:9])
    if not text.isdigit():
        return None
    return int(text) * 1_000_000_000 if seconds else int(text)


def parse_value(text):
    text = text.strip()
    if text == "" or text.lower() in ("nan", "-nan"):
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_ticks(path, stream):
    """(t_ns, value) of `stream` in file order; lines that are not its good ticks are skipped
    (the command already reported them)."""
    ticks = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = [field.strip(" \t\r\n") for field in line.split(",")]
            if len(fields) < 3 or fields[0] != stream:
                continue
            t, v = parse_timestamp_ns(fields[1]), parse_value(fields[2])
            if t is None or v is None:
                continue
            if ticks and t < ticks[-1][0]:  # out of order: the command dropped it too
                continue
            ticks.append((t, v))
    return ticks


def read_forecasts(path, stream):
    """Rows of `stream`: dict t_ns, value, q10, q50, q90 (lists over horizons 1..H)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        fail(f"{path}: no forecasts in it")
    if lines[0].lstrip().startswith("{"):
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                fail(f"{path}:{number}: not a JSON line ({error}); give the command's --format jsonl output")
            if row.get("stream") != stream:
                continue
            value = row.get("value")
            rows.append({"t_ns": parse_timestamp_ns(row["t"]),
                         "value": math.nan if value is None else float(value),
                         "q10": row["q10"], "q50": row["q50"], "q90": row["q90"]})
        return rows
    header = [name.strip() for name in lines[0].split(",")]
    if header[:3] != ["stream_id", "timestamp", "value"] or (len(header) - 3) % 3 != 0:
        fail(f"{path}:1: expected the header stream_id,timestamp,value,q10_h1,q50_h1,q90_h1,... "
             "of the command's --format csv output")
    horizon = (len(header) - 3) // 3
    for number, line in enumerate(lines[1:], 2):
        fields = line.split(",")
        if fields[0] != stream:
            continue
        if len(fields) != len(header):
            fail(f"{path}:{number}: {len(fields)} columns, the header has {len(header)}")
        numbers = [float(x) for x in fields[3:]]
        value = parse_value(fields[2])
        rows.append({"t_ns": parse_timestamp_ns(fields[1]),
                     "value": math.nan if value is None else value,
                     "q10": numbers[0::3][:horizon], "q50": numbers[1::3][:horizon],
                     "q90": numbers[2::3][:horizon]})
    return rows


def streams_in(path):
    with open(path, encoding="utf-8") as f:
        first = f.readline()
        names = set()
        if first.lstrip().startswith("{"):
            names.add(json.loads(first).get("stream"))
            names.update(json.loads(line).get("stream") for line in f if line.strip())
        else:
            names.update(line.split(",", 1)[0] for line in f if line.strip())
    return sorted(n for n in names if n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("forecast", nargs="?", help="the command's output, CSV or JSON lines")
    parser.add_argument("--stream", help="the stream id to draw (default: the only one)")
    parser.add_argument("--ticks", help="the tick CSV the command read, for the true values")
    parser.add_argument("--horizon", default="1",
                        help="comma-separated horizons to draw at their target times (default 1)")
    parser.add_argument("--output", "-o", help="the PNG to write")
    parser.add_argument("--check", action="store_true",
                        help="only check that matplotlib is there (exit 0) or say what is missing")
    args = parser.parse_args()
    if not args.check and (args.forecast is None or args.output is None):
        parser.error("give the forecast file and --output PNG")

    try:
        import matplotlib
        matplotlib.use("Agg")  # no display: the plot goes to a file
        import matplotlib.dates
        import matplotlib.pyplot as plt
    except ImportError:
        fail("matplotlib is not installed for this python3; install Debian's python3-matplotlib "
             "(scripts/setup.sh does)", code=1)
    if args.check:
        return

    try:
        stream = args.stream
        if stream is None:
            names = streams_in(args.forecast)
            if len(names) != 1:
                fail(f"{args.forecast} holds {len(names)} streams; pick one with --stream "
                     f"({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})")
            stream = names[0]
        rows = read_forecasts(args.forecast, stream)
        truth = read_ticks(args.ticks, stream) if args.ticks else [(r["t_ns"], r["value"]) for r in rows]
    except OSError as error:
        fail(f"{error.filename}: {error.strerror}")
    if not rows:
        fail(f"{args.forecast}: no forecasts of stream \"{stream}\"; check --stream")
    max_h = len(rows[0]["q50"])
    try:
        horizons = sorted({int(h) for h in args.horizon.split(",")})
    except ValueError:
        fail(f"--horizon \"{args.horizon}\": expected horizons like 1 or 1,12")
    if horizons[0] < 1 or horizons[-1] > max_h:
        fail(f"--horizon {args.horizon}: the forecasts have horizons 1..{max_h}")

    # Target times: h ticks of the stream after the forecast's tick; past the last tick (the
    # fan), steps of the median time step, which is where the next ticks would most likely fall.
    times_ns = [r["t_ns"] for r in rows]
    steps = [b - a for a, b in zip(times_ns, times_ns[1:]) if b > a]
    step_ns = statistics.median(steps) if steps else 1_000_000_000

    def target_ns(i, h):
        j = i + h
        return times_ns[j] if j < len(times_ns) else times_ns[-1] + (j - len(times_ns) + 1) * step_ns

    origin_ns = min(times_ns[0], truth[0][0]) if truth else times_ns[0]
    as_dates = origin_ns / 1e9 >= UNIX_TIME_FROM_S

    def x_of(t_ns):
        if as_dates:
            return datetime.fromtimestamp(t_ns / 1e9, tz=timezone.utc)
        return (t_ns - origin_ns) / 1e9

    figure, axes = plt.subplots(figsize=(12, 5), dpi=110)
    axes.plot([x_of(t) for t, _ in truth], [v for _, v in truth], color="black", linewidth=1.0,
              label="value", zorder=3)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    values = [r["value"] for r in rows]
    for k, h in enumerate(horizons):
        color = colors[k % len(colors)]
        # Only targets that have arrived; the fan below shows the forecasts past the end.
        made = range(max(0, len(rows) - h))
        xs = [x_of(target_ns(i, h)) for i in made]
        q10 = [rows[i]["q10"][h - 1] for i in made]
        q50 = [rows[i]["q50"][h - 1] for i in made]
        q90 = [rows[i]["q90"][h - 1] for i in made]
        # Coverage over the targets that have arrived and carry a value (not gaps).
        hits = [lo <= values[i + h] <= hi for i, (lo, hi) in enumerate(zip(q10, q90))
                if i + h < len(values) and not math.isnan(values[i + h])]
        coverage = f", 80 % band covers {100 * sum(hits) / len(hits):.1f} % of {len(hits)}" if hits else ""
        # Nearer horizons have narrower bands: draw them above the wider ones.
        layer = 2 - k / len(horizons)
        axes.fill_between(xs, q10, q90, color=color, alpha=0.25, linewidth=0, zorder=layer)
        axes.plot(xs, q50, color=color, linewidth=1.0, zorder=layer,
                  label=f"h={h} median, q10..q90{coverage}")
    last = len(rows) - 1
    fan_x = [x_of(times_ns[-1])] + [x_of(times_ns[-1] + h * step_ns) for h in range(1, max_h + 1)]
    fan_lo = [rows[last]["value"]] + rows[last]["q10"]
    fan_mid = [rows[last]["value"]] + rows[last]["q50"]
    fan_hi = [rows[last]["value"]] + rows[last]["q90"]
    if not math.isnan(rows[last]["value"]):
        axes.fill_between(fan_x, fan_lo, fan_hi, color="tab:red", alpha=0.15, linewidth=0)
        axes.plot(fan_x, fan_mid, color="tab:red", linewidth=1.0, linestyle="--",
                  label=f"last forecast, h=1..{max_h}")
    axes.set_title(f"{stream}: {len(rows)} forecasts, q10..q90 bands at their target times")
    axes.set_xlabel("time (UTC)" if as_dates else "seconds")
    axes.set_ylabel("value")
    if as_dates:
        axes.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(axes.xaxis.get_major_locator()))
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    try:
        figure.savefig(args.output)
    except OSError as error:
        fail(f"{args.output}: cannot write the PNG: {error.strerror}")
    print(f"plot_forecast.py: wrote {args.output} ({stream}, {len(rows)} forecasts)", file=sys.stderr)


if __name__ == "__main__":
    main()
