#!/usr/bin/python3
"""Prints a Markdown table of long fuzz runs from the output of tests/fuzz/long_run.sh.

    tests/fuzz/summarize_long_run.py build/fuzz-long

Per target: seconds, executions, exec/s and peak RSS (libFuzzer's final stats); cov, ft and
the corpus (units/size) from the last status line; the files left in the corpus folder; and what
was found (crash-, timeout-, leak-, oom- files beside the corpus; none when the run ended at its
time limit).
"""
import csv
import pathlib
import re
import sys


def final_stats(log_text):
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", log_text, re.M))
    status = re.findall(r"^#\d+\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\S+)", log_text, re.M)
    cov, ft, corp = status[-1] if status else ("?", "?", "?")
    return stats, cov, ft, corp


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build/fuzz-long")
    rows = list(csv.DictReader(open(out / "summary.tsv"), delimiter="\t"))
    print("| target | seconds | executions | exec/s | cov | ft | peak RSS | corpus (libFuzzer) | files kept | found |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        target = row["target"]
        stats, cov, ft, corp = final_stats((out / f"{target}.log").read_text(errors="replace"))
        found = sorted(p.name.split("-")[0] for p in (out / target).iterdir() if p.is_file())
        kinds = ", ".join(f"{found.count(k)} {k}" for k in sorted(set(found))) or "none"
        print(f"| {target} | {row['seconds']} | {int(stats.get('number_of_executed_units', 0)):,} "
              f"| {stats.get('average_exec_per_sec', '?')} | {cov} | {ft} "
              f"| {stats.get('peak_rss_mb', '?')} MB "
              f"| {corp} | {row['corpus_files']} ({int(row['corpus_bytes']) // 1024} KiB) | {kinds} |")


if __name__ == "__main__":
    main()
