#!/usr/bin/env python3
"""The streaming recogniser's latency, measured the ways the field reports it, for the default
decoder (CTC prefix beam search with the word LM, "beam+lm") and for greedy CTC.

    /usr/bin/python3 -m models.train.asr.word_times --count 40 --seed 11 --out build/asr_latency
    /usr/bin/python3 -m models.train.asr.latency_report build/asr_latency [--model M]
        [--decoder beam|greedy|both] [--binary build/release/statestream] [--endpoint 0.8]
        [--bench-seconds 0.5] [--bench-json SAVED.json] [--json OUT.json]

Input: word-timed files (word_times.py: NAME.wav + NAME.words.json with each reference
word's start and end, from flite's own durations); a folder or the .words.json files. For each
decoder it runs `statestream bench transcribe --replay` on each WAV (the live transcript
sink's partial and final events, with the input time of the step that fired each; `--lm none`
for greedy, the default otherwise), for greedy also `statestream transcribe --lm none --format
jsonl` (word times, for the check below), and `statestream bench transcribe --json` once
(compute per step with each decoder, streams per core with the default one), then prints a
markdown table (and --json) of:

  algorithmic latency  hop + look-ahead of the front-end (from the model's front-end spec, as
                       the bench prints it): a step runs when its hop's last sample arrives
                       and the analysis window ends there, so look-ahead is 0 and the
                       latency is one hop (10 ms); the causal model adds none.
  compute per step     CPU per 10 ms step at 1 stream with each decoder, the decoder's own
                       share, and per stream-step at N streams with the default decoder
                       (p50/p99), and the round at N streams (the wait of the last stream).
  first-text latency   start of speech (the first reference word's start) to the first
                       non-empty partial.
  word emission        per correctly recognised reference word: its end in the audio to the
                       moment the word is settled in the partial transcript (below).
                       Target <= 200 ms.
  first appearance     the same to the moment the word first appears at its final place,
                       even if a later partial changes it again.
  revisions            partials that rewrite text an earlier partial showed (the earlier
                       text is not a prefix of the later), and words of the finals whose
                       settling came after their first appearance.
  endpoint delay       end of the last reference word to the final event (the live sink
                       closes a segment `--endpoint` seconds after its best text last
                       changed).

Settled and first appearance. The live sink shows the open segment's current best text as
partials and closes it with a final, which is never revised. A beam search may change words
an earlier partial showed (greedy decoding only appends). For word i of a final, with the
segment's partials P_1..P_m at times t_1..t_m, P_j "shows" the word when the i-th word of
P_j's text equals it:
    first appearance  t_j of the first P_j that shows it;
    settled           t_j of the first P_j from which every later partial of the segment
                      shows it (from then on the user sees the word as it ends up);
and a word that the last partial does not show is settled by the final (its at_s), which
also bounds its first appearance: the final shows every word. What a user perceives as
"the word is there" is the settled time; the first appearance is how early a word can be
glimpsed. For greedy decoding the two are equal.

Where the times come from, exactly (engine/transcribe_file.cpp, engine/ctc_greedy_decoder.cpp,
engine/transcript_sink.cpp, bench/transcriber_stream.cpp): with hop h (0.01 s), model step k
(0-based) runs on the log-mel frame whose window ends at model-rate sample (k + 1) h; the
analysis emits a frame as soon as that sample arrives (dsp/stft.hpp: latency 0). The resampler
(only for inputs not at 16 kHz) delays the signal by d seconds; the decoder subtracts d from
every time. Step k can run once the input reaches (k + 1) h of the input's own time, and its
text is out after that step's compute c (front-end + model + decoder of one step, with that
decoder). The replay's events carry at_s = (k + 1) h, the input time at which the step that
fired them had its hop, so, on the audio's time axis, with look-ahead L (0 here):
    emission latency  = settled at_s + L + c - reference end of that word
    first appearance  = first-appearance at_s + L + c - reference end of that word
    first-text        = at_s(first partial) + L + c - reference start of the first word
    endpoint delay    = at_s(last final) + L + c - reference end of the last word
c is the bench's p50 CPU per step at one stream with the same decoder (its p99 is in the
table). Not included: the capture buffering of a live device (its block size) and the time
to print.

The greedy decoder's word times give the same emission by formula, and the report checks the
replay against it: greedy gives each word
    start_s = k_first h - d       (k_first: the step that emitted its first character)
    end_s   = (k_last + 1) h - d  (k_last: the step that emitted its last character)
so the whole word is in the partial at end_s + d (+ L + c), never revised; every word of
`transcribe --lm none --format jsonl` must be first shown by the replayed partials at that
time (disagreements are counted and make the exit code 1). The sink closes a segment
E = round(endpoint / h) steps after its last emission, so the final comes at end_s(last word)
+ d + E h when that emission is the last word's last character, later when a space followed
it (counted). A beam search's word times are the frames that first added a word's characters
to the hypothesis that is best at the end, which need not have been the best (shown) then,
so for it only the partials' times mean anything; the check there is that every word of a
final was shown by the segment's last partial (words settled only by the final, counted).

Matching: reference and hypothesis words (the live finals' words, each through
text.scoring_form) are aligned by a Levenshtein alignment (unit costs; ties prefer a
substitution, then a deletion, then an insertion, as error_rates.edit_counts does); only
reference words aligned to an equal hypothesis word count as emitted. Two equal words are the
same spoken word only if the hypothesis word first appeared after the reference word began: a
causal recogniser cannot write a word before hearing any of it, so an earlier one is another
occurrence (a garbled "i" written as "a" must not pair with the "a" spoken later), and the
alignment treats the pair as a substitution. The share emitted is that count over all
reference words. Percentiles: numpy's linear interpolation.
"""
import argparse
import glob
import json
import math
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
WHISPER_STREAMING_CONTEXT = ("about 3 s", "Whisper-Streaming (Machacek et al. 2023) reports 3.3 s; "
                             "not measured here")
REPLAY_TOLERANCE_S = 0.0015
# --decoder choices -> the decoder's name (CtcDecoder::name(), the bench's keys) and the
# options that make `statestream transcribe` / `bench transcribe` run it.
DECODERS = {"beam": ("beam+lm", []), "greedy": ("greedy", ["--lm", "none"])}


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


@dataclass(frozen=True)
class Emission:
    """A word of a final and when the replayed partials showed it (input time, at_s)."""
    word: Word
    first_appearance: float
    settled: float
    in_last_partial: bool    # False: only the final showed it where it ends up


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


def matched_words(reference: Sequence[Word], hypothesis: Sequence[Word],
                  written_at: Sequence[float]) -> List[Tuple[int, int]]:
    """(reference index, hypothesis index) of the correctly recognised words: equal after
    scoring_form, and hypothesis word h written (written_at[h], audio time) no earlier than
    reference word r began."""
    def heard_before_written(r: int, h: int) -> bool:
        return written_at[h] >= reference[r].start

    return align_words([scoring_word(w.text) for w in reference],
                       [scoring_word(w.text) or "\0" for w in hypothesis], heard_before_written)


def emission_latencies(reference: Sequence[Word], hypothesis: Sequence[Word],
                       timing: Timing) -> List[Tuple[int, float]]:
    """Greedy's formula: (reference index, seconds) for each reference word recognised
    correctly: the moment its whole text is in the partial transcript (end_s + d + L + c)
    minus its end in the audio."""
    written = [w.end + timing.resampler_delay for w in hypothesis]
    return [(r, written[h] + timing.lookahead + timing.compute - reference[r].end)
            for r, h in matched_words(reference, hypothesis, written)]


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


def segments(events: Sequence[Dict]) -> List[Tuple[List[Dict], Dict]]:
    """(the segment's partials, its final) for every final, in order. Partials hold the open
    segment only; partials after the last final (no final closed them) are left out."""
    result, partials = [], []
    for event in events:
        if event["type"] == "partial":
            partials.append(event)
        else:
            result.append((partials, event))
            partials = []
    return result


def word_emissions(events: Sequence[Dict]) -> List[Emission]:
    """Every word of the finals, in order, with its first appearance and settled time (module
    docstring) from the replayed partials."""
    emissions = []
    for partials, final in segments(events):
        texts = [p["text"].split() for p in partials]
        for index, record in enumerate(final["words"]):
            word = Word(record["word"], float(record.get("start", math.nan)),
                        float(record.get("end", math.nan)))
            # shows[j]: partial j has this word at this place
            shows = [index < len(words) and words[index] == word.text for words in texts]
            first = next((p["at_s"] for p, yes in zip(partials, shows) if yes), final["at_s"])
            in_last = bool(shows) and shows[-1]
            settled = final["at_s"]
            if in_last:
                j = len(shows) - 1
                while j > 0 and shows[j - 1]:
                    j -= 1
                settled = partials[j]["at_s"]
            emissions.append(Emission(word, first, settled, in_last))
    return emissions


def partial_emission_times(events: Sequence[Dict]) -> List[float]:
    """For every word of the finals, in order, the at_s of the first partial that holds it
    whole (the word at its place in the open segment equals the final's word); NaN when no
    partial did. Partials hold the open segment only, so words are counted per segment."""
    times: List[float] = []
    for partials, final in segments(events):
        words = [w["word"] for w in final["words"]]
        for index, word in enumerate(words):
            times.append(next((p["at_s"] for p in partials
                               if index < len(p["text"].split())
                               and p["text"].split()[index] == word), float("nan")))
    return times


def revising_partials(events: Sequence[Dict]) -> Tuple[int, int]:
    """(partials that rewrite text the segment's previous partial showed, all partials): a
    partial revises when the previous one's text is not a prefix of its own."""
    revising = total = 0
    for partials, _ in segments(events):
        total += len(partials)
        revising += sum(1 for before, after in zip(partials, partials[1:])
                        if not after["text"].startswith(before["text"]))
    return revising, total


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


def run_statestream(command: Sequence[str], shown: Optional[str] = None) -> str:
    """stdout of a statestream command; a failure stops the report with its stderr's end.
    shown: how to name the command in that message (default: the command itself)."""
    result = subprocess.run(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{shown or ' '.join(command)} failed (exit {result.returncode}): "
                         f"{result.stderr.strip()[-400:]}")
    return result.stdout


def model_arguments(model: Optional[str]) -> List[str]:
    return ["--model", model] if model else []


def run_transcribe(binary: str, model: Optional[str],
                   audio: Sequence[str]) -> Dict[str, List[Word]]:
    """{audio path: hypothesis words with times} from `statestream transcribe --format jsonl`,
    decoding greedily (the word-time formula's check)."""
    command = ([binary, "transcribe", "--format", "jsonl"] + DECODERS["greedy"][1] +
               model_arguments(model))
    stdout = run_statestream(command + list(audio), shown=" ".join(command) + " ...")
    hypotheses = {}
    for line in stdout.splitlines():
        if line.strip():
            record = json.loads(line)
            hypotheses[record["file"]] = [Word(w["word"], float(w["start"]), float(w["end"]))
                                          for w in record["words"]]
    missing = [a for a in audio if a not in hypotheses]
    if missing:
        raise SystemExit(f"statestream transcribe gave no line for {missing[0]}")
    return hypotheses


def run_bench(binary: str, model: Optional[str], seconds: float, endpoint: float) -> Dict:
    return json.loads(run_statestream(
        [binary, "bench", "transcribe", "--json", "--seconds", str(seconds),
         "--endpoint", str(endpoint)] + model_arguments(model)))


def run_replay(binary: str, model: Optional[str], audio: str, endpoint: float,
               decoder: str = "greedy") -> List[Dict]:
    """The live transcript sink's events for one file (`statestream bench transcribe --replay`)
    with the decoder chosen (a DECODERS key); stops if the bench ran another one (the default
    decoder is greedy when no word LM is found)."""
    name, options = DECODERS[decoder]
    stdout = run_statestream([binary, "bench", "transcribe", "--replay", "--input", audio,
                              "--endpoint", str(endpoint)] + options + model_arguments(model))
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    ran = {e.get("decoder", name) for e in events}
    if ran - {name}:
        raise SystemExit(f"{audio}: `bench transcribe --replay` decoded with {', '.join(ran)}, "
                         f"not {name}; for beam+lm the word LM must lie beside the model or among "
                         "the shipped models (data/models/transcriber.lm.arpa)")
    return events


def bench_chain(bench: Dict, name: str) -> Dict:
    """The bench's whole-chain figures with decoder `name`."""
    chains = bench.get("chains")
    if chains is None:
        raise SystemExit(f"the bench output is {bench.get('schema')}, without per-decoder chains; "
                         "rerun `statestream bench transcribe --json` (statestream.bench.transcribe/2)")
    if name not in chains:
        raise SystemExit(f"the bench measured {', '.join(chains)}, not {name}; for beam+lm the word "
                         "LM must lie beside the model or among the shipped models")
    return chains[name]


# --- report ---------------------------------------------------------------------------------------

def measure(references: Sequence[Dict], hypotheses: Optional[Dict[str, List[Word]]],
            replays: Dict[str, List[Dict]], timing: Timing, decoder: str = "greedy") -> Dict:
    """Every figure over the files for one decoder (a DECODERS key; module docstring), from
    the replayed live sink's events, and the checks: for greedy, of the word-time formula
    (hypotheses: `transcribe --lm none`'s words) against the replay."""
    emissions, first_appearances, first_texts, endpoints, per_file = [], [], [], [], []
    reference_words = hypothesis_words = formula_disagreements = late_finals = 0
    final_only = revised_words = revising = partials = 0
    offset = timing.lookahead + timing.compute
    for reference in references:
        events = replays[reference["audio"]]
        words = reference["words"]
        reference_words += len(words)
        shown = word_emissions(events)
        hypothesis_words += len(shown)
        pairs = matched_words(words, [e.word for e in shown], [e.first_appearance for e in shown])
        settled_s = [shown[h].settled + offset - words[r].end for r, h in pairs]
        first_s = [shown[h].first_appearance + offset - words[r].end for r, h in pairs]
        emissions.extend(settled_s)
        first_appearances.extend(first_s)
        final_only += sum(1 for e in shown if not e.in_last_partial)
        revised_words += sum(1 for e in shown if e.settled > e.first_appearance)
        file_revising, file_partials = revising_partials(events)
        revising += file_revising
        partials += file_partials
        if decoder == "greedy" and hypotheses is not None:
            # The formula's emission moment of every word against the first partial holding
            # it whole (compute left out on both sides), and the final against the formula.
            hypothesis = hypotheses[reference["audio"]]
            replayed = partial_emission_times(events)
            if len(replayed) != len(hypothesis):
                formula_disagreements += max(len(replayed), len(hypothesis))
            else:
                formula_disagreements += sum(
                    1 for word, at_s in zip(hypothesis, replayed)
                    if not abs(word.end + timing.resampler_delay - at_s) <= REPLAY_TOLERANCE_S)
            final_at = last_final_time(events)
            predicted_final = final_time(hypothesis, Timing(timing.hop, timing.resampler_delay,
                                                            0.0, 0.0, timing.endpoint))
            if final_at is not None and predicted_final is not None and \
                    final_at > predicted_final + REPLAY_TOLERANCE_S:
                late_finals += 1
        first, delay = replay_latencies(words, events, timing)
        if first is not None:
            first_texts.append(first)
        if delay is not None:
            endpoints.append(delay)
        per_file.append({"file": reference["json"], "reference_words": len(words),
                         "emitted_words": len(pairs),
                         "emission_s": [round(x, 4) for x in settled_s],
                         "first_appearance_s": [round(x, 4) for x in first_s],
                         "first_text_s": first, "endpoint_delay_s": delay,
                         "revising_partials": file_revising,
                         "hypothesis": " ".join(e.word.text for e in shown)})
    figures = {
        "decoder": DECODERS[decoder][0],
        "files": len(references), "reference_words": reference_words,
        "hypothesis_words": hypothesis_words, "emitted_words": len(emissions),
        "emitted_share": len(emissions) / reference_words if reference_words else 0.0,
        "emission_s": summary(emissions),
        "first_appearance_s": summary(first_appearances),
        "within_target_share": (float(np.mean(np.asarray(emissions) <= TARGET_EMISSION_S))
                                if emissions else None),
        "first_text_s": summary(first_texts),
        "files_without_text": len(references) - len(first_texts),
        "endpoint_delay_s": summary(endpoints),
        "partials": partials, "revising_partials": revising,
        "revised_words": revised_words,
        "words_settled_only_by_the_final": final_only,
        "per_file": per_file,
    }
    if decoder == "greedy":
        figures["emission_formula_disagreements"] = formula_disagreements
        figures["finals_after_a_trailing_emission"] = late_finals
    return figures


def milliseconds(value: Optional[float]) -> str:
    return "-" if value is None else f"{value * 1e3:.0f} ms"


def pair(summary_s: Dict, first: str = "median", second: str = "p90") -> str:
    return f"{milliseconds(summary_s[first])} / {milliseconds(summary_s[second])}"


def markdown(report: Dict) -> str:
    """One row per figure, one column per decoder measured."""
    bench, decoders = report["bench"], report["decoders"]
    names = list(decoders)
    latency = bench["latency"]
    fit, default = bench["streams"]["max_streams_fit"], bench["streams"].get("decoder")
    at_n = next((row for row in bench["streams"]["rows"] if row["streams"] == fit), None)

    def row(figure: str, cell: Callable[[str], str], how: str) -> str:
        return f"| {figure} | " + " | ".join(cell(name) for name in names) + f" | {how} |"

    def figures(name: str) -> Dict:
        return decoders[name]["figures"]

    def chain(name: str) -> Dict:
        return bench_chain(bench, name)

    def step(name: str, part: str) -> str:
        us = chain(name)[part]
        return f"{us['p50'] / 1e3:.3f} / {us['p99'] / 1e3:.3f} ms"

    def at_n_cell(name: str, key: str) -> str:
        if at_n is None or name != default:
            return "-"
        return f"{at_n[key]['p50'] / 1e3:.2f} / {at_n[key]['p99'] / 1e3:.2f} ms"

    def emitted(name: str) -> str:
        f = figures(name)
        return f"{f['emitted_words']} of {f['reference_words']} ({f['emitted_share'] * 100:.1f} %)"

    def emission(name: str) -> str:
        f = figures(name)
        met = f["within_target_share"]
        return pair(f["emission_s"]) + ("" if met is None else f" ({met * 100:.0f} % <= "
                                        f"{TARGET_EMISSION_S * 1e3:.0f} ms)")

    def revisions(name: str) -> str:
        f = figures(name)
        return (f"{f['revising_partials']} of {f['partials']} partials; "
                f"{f['revised_words']} of {f['hypothesis_words']} words")

    lines = [
        "| figure | " + " | ".join(names) + " | how |",
        "|---|" + "---:|" * len(names) + "---|",
        row("algorithmic latency", lambda _: f"{latency['algorithmic_ms']:.1f} ms",
            f"hop {latency['hop_ms']:.0f} ms + look-ahead {latency['lookahead_ms']:.0f} ms (the "
            f"{latency['window_ms']:.0f} ms window ends at the hop's last sample; causal model)"),
        row("compute per 10 ms step, 1 stream, p50 / p99", lambda n: step(n, "step_us"),
            "CPU time, whole chain"),
        row("of which the decoder, p50 / p99", lambda n: step(n, "decoder_us"),
            "CPU time of the decoder in the live sink"),
        row("RTF (RTFx), whole chain", lambda n: f"{chain(n)['rtf']:.4f} ({chain(n)['rtfx']:.0f})",
            "CPU seconds per audio second"),
    ]
    if at_n:
        lines.append(row(f"compute per stream-step at N = {fit} streams, p50 / p99",
                         lambda n: at_n_cell(n, "step_us"),
                         f"N = live streams per core with {default} (mean round <= "
                         f"{bench['streams']['budget_share'] * 100:.0f} % of 10 ms)"))
        lines.append(row(f"round of N = {fit} streams (last stream's wait), p50 / p99",
                         lambda n: at_n_cell(n, "round_us"),
                         "one step of every stream, round-robin on one thread"))
    lines += [
        row("first-text latency, median / p90", lambda n: pair(figures(n)["first_text_s"]),
            "start of speech to the first non-empty partial"),
        row("word emission latency (settled), median / p90", emission,
            "word's end in the audio to the partial from which the word stays as in the final; "
            f"target <= {TARGET_EMISSION_S * 1e3:.0f} ms"),
        row("word first appearance, median / p90",
            lambda n: pair(figures(n)["first_appearance_s"]),
            "word's end to the first partial showing it at its final place, even if revised later"),
        row("words emitted correctly", emitted, "only these have an emission latency"),
        row("revisions", revisions,
            "partials that rewrite shown text; final words settled after their first appearance"),
        row("endpoint (finalisation) delay, median / p90",
            lambda n: pair(figures(n)["endpoint_delay_s"]),
            f"end of the last word to the final event, endpoint {report['endpoint']:.2f} s"),
        row("Whisper-based streaming, for context", lambda _: WHISPER_STREAMING_CONTEXT[0],
            WHISPER_STREAMING_CONTEXT[1]),
        "",
    ]
    first = figures(names[0])
    notes = [f"{first['files']} files, {first['reference_words']} reference words; compute c "
             "(p50, 1 stream, with that decoder) added to every figure: " +
             ", ".join(f"{n} {decoders[n]['timing']['compute'] * 1e3:.3f} ms" for n in names) + "."]
    for name in names:
        f = figures(name)
        notes.append(f"{name}: files with no text {f['files_without_text']}; words settled only "
                     f"by the final {f['words_settled_only_by_the_final']}.")
        if "emission_formula_disagreements" in f:
            notes.append(f"{name}: word emission times from `transcribe --lm none --format jsonl` "
                         f"against the replayed live sink's partials: "
                         f"{f['emission_formula_disagreements']} disagree; finals later than the "
                         f"last word + endpoint (a space emitted after it): "
                         f"{f['finals_after_a_trailing_emission']} of {f['files']} files.")
    lines.append(" ".join(notes))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="folders of, or, .words.json files")
    parser.add_argument("--binary", default="build/release/statestream")
    parser.add_argument("--model", help="transcriber model file (default: the shipped one)")
    parser.add_argument("--decoder", choices=["beam", "greedy", "both"], default="both",
                        help="beam: the default decoder (beam search + the shipped word LM); "
                             "greedy: --lm none; both (default)")
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
    chosen = ["beam", "greedy"] if args.decoder == "both" else [args.decoder]
    decoders = {}
    for decoder in chosen:
        name = DECODERS[decoder][0]
        timing = Timing(hop=bench["latency"]["hop_ms"] / 1e3, resampler_delay=0.0,
                        lookahead=bench["latency"]["lookahead_ms"] / 1e3,
                        compute=bench_chain(bench, name)["step_us"]["p50"] / 1e6,
                        endpoint=args.endpoint)
        hypotheses = (run_transcribe(args.binary, args.model, [r["audio"] for r in references])
                      if decoder == "greedy" else None)
        replays = {r["audio"]: run_replay(args.binary, args.model, r["audio"], args.endpoint,
                                          decoder) for r in references}
        decoders[name] = {
            "timing": timing.__dict__ | {"endpoint_frames": timing.endpoint_frames},
            "figures": measure(references, hypotheses, replays, timing, decoder),
        }
    report = {"schema": "statestream.latency_report/2", "endpoint": args.endpoint,
              "decoders": decoders, "bench": bench}
    print(markdown(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
            handle.write("\n")
    if decoders.get("greedy", {}).get("figures", {}).get("emission_formula_disagreements"):
        print("the greedy word emission formula disagrees with the live sink's partials; see the "
              "module docstring", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
