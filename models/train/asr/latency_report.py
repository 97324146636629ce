#!/usr/bin/env python3
"""The streaming recogniser's latency, measured the ways the field reports it.

    /usr/bin/python3 -m models.train.asr.word_times --count 40 --seed 11 --out build/asr_latency
    /usr/bin/python3 -m models.train.asr.latency_report build/asr_latency [--model M]
        [--binary build/release/statestream] [--endpoint 0.8] [--bench-seconds 0.5]
        [--bench-json SAVED.json] [--json OUT.json]

Input: word-timed files (word_times.py: NAME.wav + NAME.words.json with each reference
word's start and end, from flite's own durations); a folder or the .words.json files. It runs
`statestream transcribe --format jsonl` on the WAVs (word times), `statestream bench
transcribe --replay` on each WAV (the live transcript sink's partial and final events, with
the input time of the step that fired each) and `statestream bench transcribe --json` once
(compute per step, streams per core), then prints a markdown table (and --json) of:

  algorithmic latency  hop + look-ahead of the front-end (from the model's front-end spec, as
                       the bench prints it): a step runs when its hop's last sample arrives
                       and the analysis window ends there, so look-ahead is 0 and the
                       latency is one hop (10 ms); the causal model adds none.
  compute per step     CPU per 10 ms step at 1 stream and per stream-step at N streams
                       (p50/p99), and the round at N streams (the wait of the last stream).
  first-text latency   start of speech (the first reference word's start) to the first
                       non-empty partial.
  word emission        per correctly recognised reference word: its end in the audio to the
                       moment the whole word is in the partial transcript. Target <= 200 ms.
  endpoint delay       end of the last reference word to the final event (the live sink
                       closes a segment `--endpoint` seconds after its last emission).

Decoding is greedy throughout (`transcribe --lm none` where the beam search exists; the
bench's replay runs the live sink with the greedy decoder). Where the times come from, exactly
(engine/transcribe_file.cpp, engine/ctc_greedy_decoder.cpp, engine/transcript_sink.cpp):
with hop h (0.01 s), model step k (0-based) runs on the log-mel frame whose window ends at
model-rate sample (k + 1) h; the analysis emits a frame as soon as that sample arrives
(dsp/stft.hpp: latency 0). The resampler (only for inputs not at 16 kHz)
delays the signal by d seconds; the decoder subtracts d from every time. The greedy decoder
gives each word
    start_s = k_first h - d       (k_first: the step that emitted its first character)
    end_s   = (k_last + 1) h - d  (k_last: the step that emitted its last character)
Step k can run once the input reaches (k + 1) h of the input's own time, and its text is out
after that step's compute c (front-end + model + decoder of one step). Hence, on the audio's
time axis, with look-ahead L (0 here):
    word emitted at   end_s + d + L + c            (the whole word is in the partial)
    emission latency  = end_s + d + L + c - reference end of that word
The replay's events carry at_s = (k + 1) h, the input time at which the step that fired them
had its hop, so
    first-text        = at_s(first partial) + L + c - reference start of the first word
    endpoint delay    = at_s(last final) + L + c - reference end of the last word
(the sink closes a segment E = round(endpoint / h) steps after its last emission, so the
final comes at end_s(last word) + d + E h when that emission is the last word's last
character, later when a space followed it). Every word's emission time from the formula is
checked against the first partial that holds the whole word, and the report counts
disagreements (none expected: greedy decoding never revises a word; a decoder that revises
partials, a beam search, would need the partials' times instead). c is the bench's p50 CPU per
step at one stream (its p99 is in the table). Not included: the capture buffering of a live
device (its block size) and the time to print.

Matching: reference and hypothesis words (each through text.scoring_form) are aligned by a
Levenshtein alignment (unit costs; ties prefer a substitution, then a deletion, then an
insertion, as error_rates.edit_counts does); only reference words aligned to an equal
hypothesis word count as emitted. Two equal words are the same spoken word only if the
hypothesis word was emitted (end_s + d) after the reference word began: a causal recogniser
cannot write a word before hearing any of it, so an earlier one is another occurrence (a
garbled "i" written as "a" must not pair with the "a" spoken later), and the alignment treats
the pair as a substitution. The share emitted is that count over all reference words.
Percentiles: numpy's linear interpolation.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import text as asr_text  # noqa: E402

MODEL_RATE_HZ = 16000
TARGET_EMISSION_S = 0.200
# Context, not a measurement: Whisper-Streaming (Machacek, Dabre and Bojar, "Turning Whisper
# into Real-Time Transcription System", 2023) reports about 3.3 s average latency.
WHISPER_STREAMING_CONTEXT = "about 3 s (Whisper-Streaming, Machacek et al. 2023: 3.3 s)"
REPLAY_TOLERANCE_S = 0.0015


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Timing:
    """The chain's constants of the formulas in the module docstring, in seconds."""
    hop: float = 0.01
    resampler_delay: float = 0.0     # d
    lookahead: float = 0.0           # L
    compute: float = 0.0             # c
    endpoint: float = 0.8

    @property
    def endpoint_frames(self) -> int:
        # TranscriptSink: std::lround(endpoint_seconds / frame_seconds)
        return int(np.floor(self.endpoint / self.hop + 0.5))


# --- alignment and arithmetic ---------------------------------------------------------------------

def align_words(reference: Sequence[str], hypothesis: Sequence[str],
                may_pair: Optional[Callable[[int, int], bool]] = None) -> List[Tuple[int, int]]:
    """(reference index, hypothesis index) of the words a minimum-edit alignment pairs as equal.

    Unit costs; among minimum-cost alignments the backtrace prefers the diagonal (match or
    substitution), then a deletion, then an insertion, like error_rates.edit_counts. With
    may_pair, equal words at (i, j) count as a match only when may_pair(i, j) holds."""
    rows, cols = len(reference), len(hypothesis)

    def same(i: int, j: int) -> bool:
        return reference[i] == hypothesis[j] and (may_pair is None or may_pair(i, j))

    cost = np.zeros((rows + 1, cols + 1), dtype=np.int64)
    cost[:, 0] = np.arange(rows + 1)
    cost[0, :] = np.arange(cols + 1)
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            diagonal = cost[i - 1, j - 1] + (not same(i - 1, j - 1))
            cost[i, j] = min(diagonal, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs, i, j = [], rows, cols
    while i > 0 and j > 0:
        match = same(i - 1, j - 1)
        if cost[i, j] == cost[i - 1, j - 1] + (not match):
            if match:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def scoring_word(word: str) -> str:
    return asr_text.scoring_form(word)


def emission_latencies(reference: Sequence[Word], hypothesis: Sequence[Word],
                       timing: Timing) -> List[Tuple[int, float]]:
    """(reference index, seconds) for each reference word recognised correctly: the moment
    its whole text is in the partial transcript minus its end in the audio."""
    def heard_before_written(r: int, h: int) -> bool:
        return hypothesis[h].end + timing.resampler_delay >= reference[r].start

    pairs = align_words([scoring_word(w.text) for w in reference],
                        [scoring_word(w.text) or "\0" for w in hypothesis], heard_before_written)
    return [(r, hypothesis[h].end + timing.resampler_delay + timing.lookahead + timing.compute
             - reference[r].end) for r, h in pairs]


def final_time(hypothesis: Sequence[Word], timing: Timing) -> Optional[float]:
    """When the live sink's final for the last segment comes, in the audio's time, if its last
    emission was the last word's last character (a space after it makes the final later)."""
    if not hypothesis:
        return None
    return (hypothesis[-1].end + timing.resampler_delay + timing.lookahead +
            timing.endpoint_frames * timing.hop + timing.compute)


def replay_latencies(reference: Sequence[Word], events: Sequence[Dict],
                     timing: Timing) -> Tuple[Optional[float], Optional[float]]:
    """(first-text latency, endpoint delay) from the replayed sink's events: the first
    partial's and the last final's at_s plus look-ahead and compute, minus the reference's
    first word start and last word end. None where there was no such event."""
    if not reference:
        return None, None
    offset = timing.lookahead + timing.compute
    first_at, final_at = first_partial_time(events), last_final_time(events)
    return (None if first_at is None else first_at + offset - reference[0].start,
            None if final_at is None else final_at + offset - reference[-1].end)


def first_partial_time(events: Sequence[Dict]) -> Optional[float]:
    return next((e["at_s"] for e in events if e["type"] == "partial"), None)


def last_final_time(events: Sequence[Dict]) -> Optional[float]:
    finals = [e for e in events if e["type"] == "final"]
    return finals[-1]["at_s"] if finals else None


def summary(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """Median, p90, mean, min, max and count (None for an empty list)."""
    if len(values) == 0:
        return {"count": 0, "median": None, "p90": None, "mean": None, "min": None, "max": None}
    array = np.asarray(values, dtype=np.float64)
    return {"count": int(array.size), "median": float(np.median(array)),
            "p90": float(np.percentile(array, 90)), "mean": float(array.mean()),
            "min": float(array.min()), "max": float(array.max())}


# --- running the engine ---------------------------------------------------------------------------

def load_references(paths: Sequence[str]) -> List[Dict]:
    """The word-timed files: each {"json", "audio", "words": [Word]}."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(sorted(glob.glob(os.path.join(path, "*.words.json"))))
        else:
            files.append(path)
    if not files:
        raise SystemExit(f"no .words.json files in {' '.join(paths)}; make them with "
                         "models/train/asr/word_times.py")
    references = []
    for name in files:
        with open(name, encoding="utf-8") as handle:
            record = json.load(handle)
        if record.get("sample_rate") != MODEL_RATE_HZ:
            raise SystemExit(f"{name}: audio at {record.get('sample_rate')} Hz; the formulas here "
                             f"take no resampler delay, so give {MODEL_RATE_HZ} Hz files "
                             "(word_times.py writes them)")
        audio = os.path.join(os.path.dirname(name), record["audio"])
        if not os.path.isfile(audio):
            raise SystemExit(f"{name}: its audio {audio} is missing; re-render it with "
                             "word_times.py")
        words = [Word(w["word"], float(w["start"]), float(w["end"])) for w in record["words"]]
        references.append({"json": name, "audio": audio, "words": words})
    return references


def greedy_arguments(binary: str) -> List[str]:
    """`--lm none` when this `statestream transcribe` has a beam search with an LM (it is then
    the default): the replay and the formulas here are for greedy decoding."""
    result = subprocess.run([binary, "transcribe", "--help"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False)
    return ["--lm", "none"] if "--lm" in result.stdout else []


def run_transcribe(binary: str, model: Optional[str],
                   audio: Sequence[str]) -> Dict[str, List[Word]]:
    """{audio path: hypothesis words with times} from `statestream transcribe --format jsonl`,
    decoding greedily."""
    command = ([binary, "transcribe", "--format", "jsonl"] + greedy_arguments(binary) +
               (["--model", model] if model else []))
    result = subprocess.run(command + list(audio), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} ... failed (exit {result.returncode}): "
                         f"{result.stderr.strip()[-400:]}")
    hypotheses = {}
    for line in result.stdout.splitlines():
        if line.strip():
            record = json.loads(line)
            hypotheses[record["file"]] = [Word(w["word"], float(w["start"]), float(w["end"]))
                                          for w in record["words"]]
    missing = [a for a in audio if a not in hypotheses]
    if missing:
        raise SystemExit(f"statestream transcribe gave no line for {missing[0]}")
    return hypotheses


def run_bench(binary: str, model: Optional[str], seconds: float, endpoint: float) -> Dict:
    command = [binary, "bench", "transcribe", "--json", "--seconds", str(seconds),
               "--endpoint", str(endpoint)] + (["--model", model] if model else [])
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {result.returncode}): "
                         f"{result.stderr.strip()[-400:]}")
    return json.loads(result.stdout)


def run_replay(binary: str, model: Optional[str], audio: str, endpoint: float) -> List[Dict]:
    """The live transcript sink's events for one file (`statestream bench transcribe --replay`)."""
    command = [binary, "bench", "transcribe", "--replay", "--input", audio,
               "--endpoint", str(endpoint)] + (["--model", model] if model else [])
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {result.returncode}): "
                         f"{result.stderr.strip()[-400:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def partial_emission_times(events: Sequence[Dict]) -> List[float]:
    """For every word of the finals, in order, the at_s of the first partial that holds it
    whole (the word at its place in the open segment equals the final's word); NaN when no
    partial did. Partials hold the open segment only, so words are counted per segment."""
    times: List[float] = []
    pending: Dict[int, float] = {}   # word index in the open segment -> first time it was whole
    history: List[Tuple[float, List[str]]] = []
    for event in events:
        if event["type"] == "partial":
            history.append((event["at_s"], event["text"].split()))
            continue
        final_words = [w["word"] for w in event["words"]]
        pending.clear()
        for at_s, words in history:
            for index, word in enumerate(words):
                if index < len(final_words) and word == final_words[index] and index not in pending:
                    pending[index] = at_s
        times.extend(pending.get(index, float("nan")) for index in range(len(final_words)))
        history.clear()
    return times


# --- report ---------------------------------------------------------------------------------------

def measure(references: Sequence[Dict], hypotheses: Dict[str, List[Word]],
            replays: Dict[str, List[Dict]], timing: Timing) -> Dict:
    """Every figure over the files (module docstring), and the checks of the formulas against
    the replayed live sink."""
    emissions, first_texts, endpoints, per_file = [], [], [], []
    reference_words = formula_disagreements = late_finals = 0
    for reference in references:
        hypothesis = hypotheses[reference["audio"]]
        events = replays[reference["audio"]]
        words = reference["words"]
        reference_words += len(words)
        latencies = emission_latencies(words, hypothesis, timing)
        emissions.extend(latency for _, latency in latencies)
        # The formula's emission moment of every hypothesis word against the first partial
        # holding it whole (compute left out on both sides).
        replayed = partial_emission_times(events)
        if len(replayed) != len(hypothesis):
            formula_disagreements += max(len(replayed), len(hypothesis))
        else:
            formula_disagreements += sum(
                1 for word, at_s in zip(hypothesis, replayed)
                if not abs(word.end + timing.resampler_delay - at_s) <= REPLAY_TOLERANCE_S)
        first, delay = replay_latencies(words, events, timing)
        final_at = last_final_time(events)
        predicted_final = final_time(hypothesis, Timing(timing.hop, timing.resampler_delay, 0.0,
                                                        0.0, timing.endpoint))
        if final_at is not None and predicted_final is not None and \
                final_at > predicted_final + REPLAY_TOLERANCE_S:
            late_finals += 1
        if first is not None:
            first_texts.append(first)
        if delay is not None:
            endpoints.append(delay)
        per_file.append({"file": reference["json"], "reference_words": len(words),
                         "emitted_words": len(latencies),
                         "emission_s": [round(x, 4) for _, x in latencies],
                         "first_text_s": first, "endpoint_delay_s": delay,
                         "hypothesis": " ".join(w.text for w in hypothesis)})
    return {
        "files": len(references), "reference_words": reference_words,
        "emitted_words": len(emissions),
        "emitted_share": len(emissions) / reference_words if reference_words else 0.0,
        "emission_s": summary(emissions),
        "within_target_share": (float(np.mean(np.asarray(emissions) <= TARGET_EMISSION_S))
                                if emissions else None),
        "first_text_s": summary(first_texts),
        "files_without_text": len(references) - len(first_texts),
        "endpoint_delay_s": summary(endpoints),
        "emission_formula_disagreements": formula_disagreements,
        "finals_after_a_trailing_emission": late_finals,
        "per_file": per_file,
    }


def milliseconds(value: Optional[float]) -> str:
    return "-" if value is None else f"{value * 1e3:.0f} ms"


def markdown(report: Dict) -> str:
    bench, figures, timing = report["bench"], report["figures"], report["timing"]
    latency, chain = bench["latency"], bench["chain"]
    rows = bench["streams"]["rows"]
    fit = bench["streams"]["max_streams_fit"]
    at_n = next((row for row in rows if row["streams"] == fit), None)
    em, ft, ep = figures["emission_s"], figures["first_text_s"], figures["endpoint_delay_s"]
    lines = [
        "| figure | value | how |",
        "|---|---:|---|",
        f"| algorithmic latency | {latency['algorithmic_ms']:.1f} ms | "
        f"hop {latency['hop_ms']:.0f} ms "
        f"+ look-ahead {latency['lookahead_ms']:.0f} ms (the {latency['window_ms']:.0f} ms window "
        f"ends at the hop's last sample; causal model) |",
        f"| compute per 10 ms step, 1 stream, p50 / p99 | {chain['step_us']['p50'] / 1e3:.2f} / "
        f"{chain['step_us']['p99'] / 1e3:.2f} ms | CPU time, whole chain (RTF "
        f"{chain['rtf']:.4f}, RTFx {chain['rtfx']:.0f}) |",
    ]
    if at_n:
        lines.append(f"| compute per stream-step at N = {fit} streams, p50 / p99 | "
                     f"{at_n['step_us']['p50'] / 1e3:.2f} / "
                     f"{at_n['step_us']['p99'] / 1e3:.2f} ms | "
                     f"N = live streams per core (mean round <= "
                     f"{bench['streams']['budget_share'] * 100:.0f} % of 10 ms) |")
        lines.append(f"| round of N = {fit} streams (last stream's wait), p50 / p99 | "
                     f"{at_n['round_us']['p50'] / 1e3:.2f} / "
                     f"{at_n['round_us']['p99'] / 1e3:.2f} ms | "
                     "one step of every stream, round-robin on one thread |")
    lines += [
        f"| first-text latency, median / p90 | {milliseconds(ft['median'])} / "
        f"{milliseconds(ft['p90'])} | start of speech to the first non-empty partial, "
        f"{ft['count']} files ({figures['files_without_text']} with no text) |",
        f"| word emission latency, median / p90 | {milliseconds(em['median'])} / "
        f"{milliseconds(em['p90'])} | word's end in the audio to the whole word in the partial; "
        f"target <= {TARGET_EMISSION_S * 1e3:.0f} ms"
        + (f", met by {figures['within_target_share'] * 100:.0f} % of them |"
           if figures["within_target_share"] is not None else " |"),
        f"| words emitted correctly | {figures['emitted_words']} of {figures['reference_words']} "
        f"({figures['emitted_share'] * 100:.1f} %) | only these have an emission latency |",
        f"| endpoint (finalisation) delay, median / p90 | {milliseconds(ep['median'])} / "
        f"{milliseconds(ep['p90'])} | end of the last word to the final event, endpoint "
        f"{timing['endpoint']:.2f} s |",
        f"| Whisper-based streaming, for context | {WHISPER_STREAMING_CONTEXT} | "
        "not measured here |",
    ]
    lines.append("")
    lines.append(f"{figures['files']} files, {figures['reference_words']} reference words; compute "
                 f"c = {timing['compute'] * 1e3:.2f} ms (p50, 1 stream) added to every figure. "
                 f"Word emission times from `transcribe --format jsonl` against the replayed live "
                 f"sink's partials: {figures['emission_formula_disagreements']} disagree. Finals "
                 f"later than the last word + endpoint (a space emitted after it): "
                 f"{figures['finals_after_a_trailing_emission']} of {figures['files']} files.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="folders of, or, .words.json files")
    parser.add_argument("--binary", default="build/release/statestream")
    parser.add_argument("--model", help="transcriber model file (default: the shipped one)")
    parser.add_argument("--endpoint", type=float, default=0.8,
                        help="the live sink's endpoint in seconds (transcribe --endpoint)")
    parser.add_argument("--bench-seconds", type=float, default=0.5,
                        help="CPU seconds per case for `statestream bench transcribe`")
    parser.add_argument("--bench-json", help="reuse a saved `bench transcribe --json` output")
    parser.add_argument("--json", help="also write every figure, per file too, to this file")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.binary):
        raise SystemExit(f"{args.binary}: no such program; build it (cmake --build --preset "
                         "release --target statestream) or pass --binary")

    references = load_references(args.paths)
    if args.bench_json:
        with open(args.bench_json, encoding="utf-8") as handle:
            bench = json.load(handle)
    else:
        bench = run_bench(args.binary, args.model, args.bench_seconds, args.endpoint)
    timing = Timing(hop=bench["latency"]["hop_ms"] / 1e3, resampler_delay=0.0,
                    lookahead=bench["latency"]["lookahead_ms"] / 1e3,
                    compute=bench["chain"]["step_us"]["p50"] / 1e6, endpoint=args.endpoint)
    hypotheses = run_transcribe(args.binary, args.model, [r["audio"] for r in references])
    replays = {r["audio"]: run_replay(args.binary, args.model, r["audio"], args.endpoint)
               for r in references}
    figures = measure(references, hypotheses, replays, timing)
    report = {
        "schema": "statestream.latency_report/1",
        "timing": timing.__dict__ | {"endpoint_frames": timing.endpoint_frames},
        "figures": figures,
        "bench": bench,
    }
    print(markdown(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
            handle.write("\n")
    if figures["emission_formula_disagreements"]:
        print("the word emission formula disagrees with the live sink's partials; see the module "
              "docstring (a decoder that revises partials needs their times)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
