"""CTC prefix beam search with a word n-gram LM: the reference for
engine/ctc_prefix_beam_decoder.{hpp,cpp}, which must give the same text and scores.

    decode(log_probs, lm=read_arpa("data/models/transcriber.lm.arpa")) -> "text"

The search is Hannun et al., "First-pass large vocabulary continuous speech recognition using
bi-directional recurrent DNNs" (arXiv:1408.2873, 2014), algorithm 1, in the log domain. Every
prefix (a label sequence) carries two CTC probabilities, that its alignments so far end in a
blank (log_p_blank) or in its last label (log_p_label); a frame's blank keeps the prefix, its
last label repeated keeps it too (only from log_p_label), and any other label extends it.

Rules the C++ copies exactly:

* Scores are log-softmaxed per frame (logits or log-probabilities both work: log-softmax of
  log-probabilities is the identity), in float64, summed in index order. A frame holding NaN
  or +inf is skipped (it still counts as a frame); -inf is a probability of 0.
* Labels: 0 blank, 1 space, then the characters (text.VOCABULARY). Prefixes never start with a
  space nor hold two in a row: such a space changes no text, so its probability stays with the
  prefix (into log_p_blank of the empty prefix, log_p_label of a prefix ending in a space).
* Pruning, per frame: only labels among the `prune_top_k` most probable (the blank counts; ties
  go to the lower index) with log p >= `prune_log_prob` extend prefixes; blanks and repeats are
  always followed, and an extension no alignment can spell (log p = -inf) is not made. The
  `beam` best prefixes survive, by acoustic log p + LM score, ties to the smaller label
  sequence.
* LM: when a space ends a word, the prefix's LM score gains
  lm_weight * ln p(word | the two words before it, <s> at the start) + word_bonus
  (ln, not log10: the acoustic scores are natural logs, so lm_weight is a plain ratio). Words
  outside the LM are scored as its <unk>, the model's own estimate of the unseen-word mass,
  trained with the rest, so it moves with the LM instead of needing its own tuning; an LM
  without <unk> is refused. (A per-character spelling cost on top, tried on 80 dev
  utterances, made the word error worse: the acoustics already pay for spelling.) The last, open word is scored the same way when choosing the best
  prefix (best(), at any frame), never inside the search. No </s>: a stream does not know
  where a sentence ends. Without an LM, lm_weight and word_bonus are unused.
* Bounded memory: when any prefix runs more than `max_pending_labels` labels past the part
  every prefix shares (the committed part), the best prefix's next label is committed and
  prefixes that disagree with it are dropped; the C++ copies at most that many labels per
  prefix per frame.
* Word times: each label remembers the frame that first appended it; a word runs from its
  first character's frame to the end of its last character's frame (as greedy decoding).
"""
import math
import os
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from ngram_lm import BOS, UNK, NgramModel  # noqa: E402
from text import BLANK_INDEX, SPACE_INDEX, VOCABULARY  # noqa: E402

# Defaults: engine/ctc_beam_settings.hpp holds the engine's, and test_ctc_beam.py checks that
# these are the same numbers.
DEFAULT_BEAM = 64
DEFAULT_LM_WEIGHT = 0.6
DEFAULT_WORD_BONUS = 5.5
DEFAULT_PRUNE_TOP_K = 8
DEFAULT_PRUNE_LOG_PROB = -10.0
DEFAULT_MAX_PENDING_LABELS = 128

LN10 = math.log(10.0)
NEG_INF = -math.inf


def log_add(a: float, b: float) -> float:
    """ln(e^a + e^b) without overflow."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high, low = (a, b) if a >= b else (b, a)
    return high + math.log1p(math.exp(low - high))


def log_softmax(scores: Sequence[float]) -> List[float]:
    """ln softmax of one frame, in float64, summed in index order (as the C++)."""
    peak = max(scores)
    total = 0.0
    for x in scores:
        total += math.exp(x - peak)
    log_norm = peak + math.log(total)
    return [x - log_norm for x in scores]


@dataclass
class Prefix:
    labels: Tuple[int, ...]   # canonical: no leading space, no two spaces in a row
    frames: Tuple[int, ...]   # the frame that first appended each label
    log_p_blank: float        # alignments ending in a blank
    log_p_label: float        # alignments ending in the last label
    lm_score: float           # sum over completed words of lm_weight * ln p + word_bonus

    @property
    def log_p(self) -> float:
        return log_add(self.log_p_blank, self.log_p_label)

    @property
    def score(self) -> float:
        return self.log_p + self.lm_score


@dataclass
class Word:
    text: str
    first_frame: int
    last_frame: int


@dataclass
class Hypothesis:
    text: str
    score: float         # acoustic + LM, the open word included: what ranks hypotheses
    log_p: float         # the acoustic part: ln p(prefix | frames) under CTC
    words: List[Word]


def _words(labels: Sequence[int], frames: Sequence[int]) -> List[Word]:
    words: List[Word] = []
    in_word = False
    for label, frame in zip(labels, frames):
        if label == SPACE_INDEX:
            in_word = False
            continue
        if not in_word:
            words.append(Word("", frame, frame))
            in_word = True
        words[-1].text += VOCABULARY[label]
        words[-1].last_frame = frame
    return words


class PrefixBeamSearch:
    """Streaming CTC prefix beam search: push() one frame at a time, best() at any frame."""

    def __init__(self, lm: Optional[NgramModel] = None, beam: int = DEFAULT_BEAM,
                 lm_weight: float = DEFAULT_LM_WEIGHT, word_bonus: float = DEFAULT_WORD_BONUS,
                 prune_top_k: int = DEFAULT_PRUNE_TOP_K,
                 prune_log_prob: float = DEFAULT_PRUNE_LOG_PROB,
                 max_pending_labels: int = DEFAULT_MAX_PENDING_LABELS):
        if not 1 <= beam <= 256:
            raise ValueError(f"beam must be 1..256, got {beam}")
        if not 1 <= prune_top_k <= len(VOCABULARY):
            raise ValueError(f"prune_top_k must be 1..{len(VOCABULARY)}, got {prune_top_k}")
        if not 1 <= max_pending_labels <= 4096:
            raise ValueError(f"max_pending_labels must be 1..4096, got {max_pending_labels}")
        if not all(math.isfinite(v) for v in (lm_weight, word_bonus, prune_log_prob)):
            raise ValueError("lm_weight, word_bonus and prune_log_prob must be finite")
        if lm is not None and (UNK,) not in lm.entries[0]:
            raise ValueError("the LM has no <unk> unigram to score words outside it")
        self.lm, self.beam = lm, beam
        self.lm_weight, self.word_bonus = lm_weight, word_bonus
        self.prune_top_k, self.prune_log_prob = prune_top_k, prune_log_prob
        self.max_pending_labels = max_pending_labels
        self.reset()

    def reset(self) -> None:
        self.frame = 0
        self.committed = 0   # labels every prefix shares
        self.prefixes: List[Prefix] = [Prefix((), (), 0.0, NEG_INF, 0.0)]

    # --- LM ----------------------------------------------------------------------------------

    def _word_score(self, labels: Sequence[int]) -> float:
        """LM score of the open word at the end of `labels` (0 when none is open)."""
        if self.lm is None or not labels or labels[-1] == SPACE_INDEX:
            return 0.0
        text = "".join(VOCABULARY[label] for label in labels)
        *before, word = text.split(" ")
        history = [BOS] + [w for w in before if w]
        return self.lm_weight * LN10 * self.lm.log10_prob(word, history) + self.word_bonus

    def _final_score(self, prefix: Prefix) -> float:
        return prefix.score + self._word_score(prefix.labels)

    # --- Search ------------------------------------------------------------------------------

    def push(self, scores: Sequence[float]) -> None:
        """One frame of logits or log-probabilities, len(VOCABULARY) of them."""
        if len(scores) != len(VOCABULARY):
            raise ValueError(f"a frame has {len(VOCABULARY)} scores, got {len(scores)}")
        scores = [float(x) for x in scores]
        if any(math.isnan(x) or x == math.inf for x in scores):
            self.frame += 1   # a broken frame is skipped, not decoded
            return
        lp = log_softmax(scores)
        ranked = sorted(range(len(lp)), key=lambda i: (-lp[i], i))[:self.prune_top_k]
        extend = [c for c in ranked if c != BLANK_INDEX and lp[c] >= self.prune_log_prob]

        # The prefixes as they stand: blank, repeat, and a space that changes no text.
        staying = {}
        for p in self.prefixes:
            log_p_blank = p.log_p + lp[BLANK_INDEX]
            log_p_label = p.log_p_label + lp[p.labels[-1]] if p.labels else NEG_INF
            if SPACE_INDEX in extend:
                if not p.labels:
                    log_p_blank = log_add(log_p_blank, p.log_p + lp[SPACE_INDEX])
                elif p.labels[-1] == SPACE_INDEX:
                    log_p_label = log_add(log_p_label, p.log_p_blank + lp[SPACE_INDEX])
            staying[p.labels] = Prefix(p.labels, p.frames, log_p_blank, log_p_label, p.lm_score)

        # Extensions; one that spells a prefix already in the beam adds to it.
        candidates = dict(staying)
        for p in self.prefixes:
            last = p.labels[-1] if p.labels else None
            for c in extend:
                if c == SPACE_INDEX and (last is None or last == SPACE_INDEX):
                    continue
                log_p = (p.log_p_blank if c == last else p.log_p) + lp[c]
                if log_p == NEG_INF:  # a repeat straight after the label: no alignment spells it
                    continue
                labels = p.labels + (c,)
                if labels in staying:
                    into = staying[labels]
                    into.log_p_label = log_add(into.log_p_label, log_p)
                    continue
                lm_score = p.lm_score
                if c == SPACE_INDEX:
                    lm_score += self._word_score(p.labels)
                candidates[labels] = Prefix(labels, p.frames + (self.frame,), NEG_INF, log_p,
                                            lm_score)

        ordered = sorted(candidates.values(), key=lambda q: (-q.score, q.labels))
        self.prefixes = ordered[:self.beam]
        self._commit(self.best_prefix())
        self.frame += 1

    def _commit(self, best: Prefix) -> None:
        limit = self.max_pending_labels
        while any(len(p.labels) > self.committed + limit for p in self.prefixes):
            if len(best.labels) == self.committed:
                self.prefixes = [p for p in self.prefixes
                                 if len(p.labels) <= self.committed + limit]
                continue
            label = best.labels[self.committed]
            self.prefixes = [p for p in self.prefixes
                             if len(p.labels) > self.committed and
                             p.labels[self.committed] == label]
            self.committed += 1

    def best_prefix(self) -> Prefix:
        """The prefix with the highest score, its open word scored by the LM."""
        return min(self.prefixes, key=lambda q: (-self._final_score(q), q.labels))

    def best(self) -> Hypothesis:
        p = self.best_prefix()
        words = _words(p.labels, p.frames)
        return Hypothesis(" ".join(w.text for w in words), self._final_score(p), p.log_p, words)

    def best_text(self) -> str:
        return self.best().text


def as_frames(log_probs) -> List[List[float]]:
    """[T, V] numpy array or torch tensor (any float dtype) as lists of Python floats."""
    if hasattr(log_probs, "detach"):
        log_probs = log_probs.detach().cpu().double().numpy()
    return [[float(x) for x in row] for row in log_probs]


def decode_hypothesis(log_probs, lm: Optional[NgramModel] = None, **settings) -> Hypothesis:
    search = PrefixBeamSearch(lm, **settings)
    for row in as_frames(log_probs):
        search.push(row)
    return search.best()


def decode(log_probs, lm: Optional[NgramModel] = None, beam: int = DEFAULT_BEAM,
           lm_weight: float = DEFAULT_LM_WEIGHT, word_bonus: float = DEFAULT_WORD_BONUS,
           prune_top_k: int = DEFAULT_PRUNE_TOP_K, prune_log_prob: float = DEFAULT_PRUNE_LOG_PROB,
           max_pending_labels: int = DEFAULT_MAX_PENDING_LABELS) -> str:
    """Text of [T, V] per-frame CTC scores (logits or log-probabilities)."""
    return decode_hypothesis(log_probs, lm, beam=beam, lm_weight=lm_weight,
                             word_bonus=word_bonus, prune_top_k=prune_top_k,
                             prune_log_prob=prune_log_prob,
                             max_pending_labels=max_pending_labels).text
