"""Word and character error rates with bootstrap 95 % intervals.

An utterance's errors are the Levenshtein distance between reference and hypothesis tokens
(words for WER, characters including spaces for CER), split into substitutions, deletions and
insertions. The corpus rate is total errors / total reference tokens (NIST's definition), not
the mean of per-utterance rates, so a short utterance does not weigh as much as a long one.

The interval comes from a percentile bootstrap over utterances (Bisani and Ney, "Bootstrap
estimates for confidence intervals in ASR performance evaluation", ICASSP 2004): resample the
utterances with replacement, recompute the corpus rate as a ratio of sums, take the 2.5th and
97.5th percentiles. metrics.bootstrap_mean_ci resamples a mean, which a ratio of sums is not,
so the same percentile scheme is written here for ratios; the same seed and resample count
(0 and 2000) are used. Comparing two systems on the same utterances uses the paired version:
each resample draws the same utterances for both, so what the two share cancels out.
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


@dataclass(frozen=True)
class EditCounts:
    """Minimum-edit alignment of one hypothesis against its reference."""
    substitutions: int
    deletions: int
    insertions: int
    reference_length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def edit_counts(reference: Sequence, hypothesis: Sequence) -> EditCounts:
    """Levenshtein alignment of two token sequences (unit costs).

    Among alignments of minimum total cost, ties are broken towards substitutions, then
    deletions, then insertions, so the split is deterministic (the total never depends on it).
    """
    rows, cols = len(reference), len(hypothesis)
    # cost[i][j], with the (S, D, I) counts of the chosen path carried alongside.
    previous = [(j, 0, 0, j) for j in range(cols + 1)]  # (cost, S, D, I)
    for i in range(1, rows + 1):
        current = [(i, 0, i, 0)]
        for j in range(1, cols + 1):
            match = reference[i - 1] == hypothesis[j - 1]
            diagonal = previous[j - 1]
            candidates = [
                (diagonal[0] + (0 if match else 1), 0,
                 (diagonal[1] + (0 if match else 1), diagonal[2], diagonal[3])),
                (previous[j][0] + 1, 1, (previous[j][1], previous[j][2] + 1, previous[j][3])),
                (current[j - 1][0] + 1, 2,
                 (current[j - 1][1], current[j - 1][2], current[j - 1][3] + 1)),
            ]
            cost, _, (s, d, n) = min(candidates, key=lambda c: (c[0], c[1]))
            current.append((cost, s, d, n))
        previous = current
    _, s, d, n = previous[cols]
    return EditCounts(s, d, n, rows)


def word_edits(reference: str, hypothesis: str) -> EditCounts:
    return edit_counts(reference.split(), hypothesis.split())


def char_edits(reference: str, hypothesis: str) -> EditCounts:
    """Characters of the space-normalised strings; spaces count, so a split or joined word is
    one character error, not a whole word."""
    return edit_counts(" ".join(reference.split()), " ".join(hypothesis.split()))


def corpus_rate(errors: Sequence[int], lengths: Sequence[int]) -> float:
    total = int(np.sum(lengths))
    if total <= 0:
        raise ValueError("the references hold no tokens; an error rate is undefined")
    return float(np.sum(errors)) / total


def _resample_indices(count: int, n_resamples: int, seed: int) -> np.ndarray:
    if count == 0:
        raise ValueError("need at least one utterance")
    if n_resamples < 1:
        raise ValueError(f"need at least one resample, got {n_resamples}")
    return np.random.default_rng(seed).integers(0, count, size=(n_resamples, count))


def bootstrap_rate_ci(errors: Sequence[int], lengths: Sequence[int],
                      n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                      level: float = 0.95) -> Tuple[float, float, float]:
    """(rate, low, high): the corpus error rate and its percentile-bootstrap interval."""
    errors = np.asarray(errors, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    if errors.shape != lengths.shape:
        raise ValueError(f"{errors.size} error counts for {lengths.size} references")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rate = corpus_rate(errors, lengths)
    indices = _resample_indices(errors.size, n_resamples, seed)
    # A resample of only empty references cannot happen here: every corpus utterance has words.
    rates = errors[indices].sum(axis=1) / np.maximum(lengths[indices].sum(axis=1), 1.0)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(rates, [tail, 100.0 - tail])
    return rate, float(low), float(high)


def bootstrap_paired_difference_ci(errors_a: Sequence[int], errors_b: Sequence[int],
                                   lengths: Sequence[int],
                                   n_resamples: int = DEFAULT_RESAMPLES,
                                   seed: int = DEFAULT_SEED, level: float = 0.95
                                   ) -> Tuple[float, float, float]:
    """(rate_a - rate_b, low, high) for two systems scored on the same utterances; an
    interval wholly below zero says system a is better beyond resampling noise."""
    errors_a = np.asarray(errors_a, dtype=np.float64)
    errors_b = np.asarray(errors_b, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    if not errors_a.shape == errors_b.shape == lengths.shape:
        raise ValueError("both systems need one error count per reference")
    difference = corpus_rate(errors_a, lengths) - corpus_rate(errors_b, lengths)
    indices = _resample_indices(lengths.size, n_resamples, seed)
    total = np.maximum(lengths[indices].sum(axis=1), 1.0)
    differences = (errors_a[indices].sum(axis=1) - errors_b[indices].sum(axis=1)) / total
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(differences, [tail, 100.0 - tail])
    return difference, float(low), float(high)


def score_pairs(references: Sequence[str], hypotheses: Sequence[str]) -> Dict[str, List[int]]:
    """Per-utterance word and character counts for lists of (normalised) texts:
    {"word_errors", "words", "char_errors", "chars", "substitutions", "deletions",
    "insertions"} (the last three are word-level)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references, {len(hypotheses)} hypotheses")
    table: Dict[str, List[int]] = {key: [] for key in (
        "word_errors", "words", "char_errors", "chars", "substitutions", "deletions",
        "insertions")}
    for reference, hypothesis in zip(references, hypotheses):
        words = word_edits(reference, hypothesis)
        chars = char_edits(reference, hypothesis)
        table["word_errors"].append(words.errors)
        table["words"].append(words.reference_length)
        table["char_errors"].append(chars.errors)
        table["chars"].append(chars.reference_length)
        table["substitutions"].append(words.substitutions)
        table["deletions"].append(words.deletions)
        table["insertions"].append(words.insertions)
    return table


def summarise(table: Dict[str, List[int]], seed: int = DEFAULT_SEED) -> Dict[str, object]:
    """WER and CER with intervals, and the word-level S/D/I totals, of a score_pairs table."""
    wer, wer_low, wer_high = bootstrap_rate_ci(table["word_errors"], table["words"], seed=seed)
    cer, cer_low, cer_high = bootstrap_rate_ci(table["char_errors"], table["chars"], seed=seed)
    return {"utterances": len(table["words"]), "words": int(np.sum(table["words"])),
            "wer": {"rate": wer, "low": wer_low, "high": wer_high},
            "cer": {"rate": cer, "low": cer_low, "high": cer_high},
            "substitutions": int(np.sum(table["substitutions"])),
            "deletions": int(np.sum(table["deletions"])),
            "insertions": int(np.sum(table["insertions"]))}
