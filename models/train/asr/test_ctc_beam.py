"""unittest of ctc_beam.py, the CTC prefix beam search the C++ decoder is held to.

    /usr/bin/python3 models/train/asr/test_ctc_beam.py
"""
import itertools
import math
import os
import re
import sys
import tempfile
import unittest

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)

import ctc_beam  # noqa: E402
import make_beam_fixture  # noqa: E402
from ngram_lm import read_arpa, train_kneser_ney, write_arpa  # noqa: E402
from text import SPACE_INDEX, VOCABULARY, ctc_collapse, decode as labels_text  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
V = len(VOCABULARY)


def index(char: str) -> int:
    return VOCABULARY.index(char)


def peaky_logits(rng: np.random.Generator, frames: int, confidence: float = 12.0) -> np.ndarray:
    """Random frame labels (half of them blank), each frame's label far ahead of the rest."""
    logits = rng.normal(0.0, 1.0, (frames, V))
    best = np.where(rng.random(frames) < 0.5, 0, rng.integers(1, V, frames))
    logits[np.arange(frames), best] += confidence
    return logits


def spell(text: str, rng: np.random.Generator, confidence: float = 10.0) -> np.ndarray:
    """Logits that say `text`: each character 1-2 frames, 1-3 blank frames between."""
    rows = []
    for char in text:
        for _ in range(int(rng.integers(1, 4))):
            rows.append(0)
        for _ in range(int(rng.integers(1, 3))):
            rows.append(index(char))
    rows += [0, 0]
    logits = rng.normal(0.0, 0.5, (len(rows), V))
    logits[np.arange(len(rows)), rows] += confidence
    return logits


def greedy_text(logits: np.ndarray) -> str:
    return " ".join(labels_text(ctc_collapse(logits.argmax(-1))).split())


def small_lm(sentences):
    return train_kneser_ney([s.split() for s in sentences], order=3)


class GreedyEquivalence(unittest.TestCase):
    def test_beam_1_without_lm_is_greedy_collapse_on_peaky_frames(self):
        rng = np.random.default_rng(5)
        for trial in range(20):
            logits = peaky_logits(rng, 61 + trial)
            with self.subTest(trial=trial):
                self.assertEqual(ctc_beam.decode(logits, None, beam=1), greedy_text(logits))

    def test_logits_and_log_probs_decode_alike_from_numpy_and_torch(self):
        import torch
        rng = np.random.default_rng(6)
        logits = peaky_logits(rng, 80, confidence=3.0)
        log_probs = torch.log_softmax(torch.from_numpy(logits), -1)
        settings = dict(beam=8, prune_top_k=V, prune_log_prob=-1e9)
        by_logits = ctc_beam.decode_hypothesis(logits, None, **settings)
        by_tensor = ctc_beam.decode_hypothesis(log_probs.float(), None, **settings)
        self.assertEqual(by_logits.text, by_tensor.text)
        self.assertAlmostEqual(by_logits.log_p, by_tensor.log_p, delta=1e-4)


class PrefixProbabilities(unittest.TestCase):
    """With nothing pruned, every prefix's log_p is the sum over its CTC alignments."""

    ACTIVE = [0, SPACE_INDEX, index("a"), index("b")]

    def canonical(self, path):
        labels = ctc_collapse(path)
        out = []
        for label in labels:
            if label == SPACE_INDEX and (not out or out[-1] == SPACE_INDEX):
                continue
            out.append(label)
        return tuple(out)

    def test_prefix_probabilities_match_brute_force_over_alignments(self):
        rng = np.random.default_rng(7)
        frames = 5
        logits = np.full((frames, V), -1e4)
        logits[:, self.ACTIVE] = rng.normal(0.0, 1.0, (frames, len(self.ACTIVE)))
        lp = np.array([ctc_beam.log_softmax(row) for row in logits])
        expected = {}
        for path in itertools.product(self.ACTIVE, repeat=frames):
            key = self.canonical(path)
            expected[key] = expected.get(key, 0.0) + math.exp(sum(lp[t, c] for t, c in enumerate(path)))
        search = ctc_beam.PrefixBeamSearch(None, beam=256, prune_top_k=len(self.ACTIVE),
                                           prune_log_prob=-50.0)
        for row in logits:
            search.push(row)
        got = {p.labels: math.exp(p.log_p) for p in search.prefixes}
        self.assertEqual(set(got), set(expected))
        for key, probability in expected.items():
            self.assertAlmostEqual(got[key], probability, delta=1e-12, msg=str(key))
        self.assertAlmostEqual(sum(got.values()), 1.0, delta=1e-12)

    def test_beam_search_finds_the_likelier_text_that_best_path_misses(self):
        # Two frames of (blank .6, a .4): the best path is blank blank (""), 0.36, but "a"
        # has three alignments worth 0.64.
        logits = np.full((2, V), -1e4)
        logits[:, 0], logits[:, index("a")] = math.log(0.6), math.log(0.4)
        self.assertEqual(greedy_text(logits), "")
        hypothesis = ctc_beam.decode_hypothesis(logits, None, beam=4)
        self.assertEqual(hypothesis.text, "a")
        self.assertAlmostEqual(math.exp(hypothesis.log_p), 0.64, delta=1e-12)


class LanguageModel(unittest.TestCase):
    lm = small_lm(["the cat sat", "a cat ran", "the cat ran", "my cat sat down"])

    def near_tie(self):
        """'the kat sat' by a hair over 'the cat sat': k and c nearly equal at one frame."""
        rng = np.random.default_rng(8)
        logits = spell("the cat sat", rng)
        c_frames = logits.argmax(-1) == index("c")
        logits[c_frames, index("k")] = logits[c_frames, index("c")] + 0.3
        return logits

    def test_the_lm_flips_a_near_tie_to_the_word_it_knows(self):
        logits = self.near_tie()
        self.assertEqual(ctc_beam.decode(logits, None), "the kat sat")
        self.assertEqual(ctc_beam.decode(logits, self.lm), "the cat sat")
        # And it is the LM weight that does it: at weight 0 the acoustics win again.
        self.assertEqual(ctc_beam.decode(logits, self.lm, lm_weight=0.0), "the kat sat")

    def test_score_is_acoustics_plus_weighted_lm_plus_bonus_per_word(self):
        logits = self.near_tie()
        weight, bonus = 0.7, 0.25
        hypothesis = ctc_beam.decode_hypothesis(logits, self.lm, lm_weight=weight,
                                                word_bonus=bonus)
        words = hypothesis.text.split()
        lm_log10 = sum(self.lm.log10_prob(w, ["<s>"] + words[:i]) for i, w in enumerate(words))
        want = hypothesis.log_p + weight * math.log(10.0) * lm_log10 + bonus * len(words)
        self.assertAlmostEqual(hypothesis.score, want, delta=1e-9)

    def test_out_of_vocabulary_words_are_scored_as_unk(self):
        search = ctc_beam.PrefixBeamSearch(self.lm, lm_weight=1.0, word_bonus=0.0)
        labels = tuple(index(c) for c in "the zzz")
        got = search._word_score(labels)
        self.assertAlmostEqual(got, math.log(10.0) * self.lm.log10_prob("<unk>", ["<s>", "the"]))

    def test_an_lm_without_unk_is_refused(self):
        lm = small_lm(["the cat sat"])
        del lm.entries[0][("<unk>",)]
        with self.assertRaisesRegex(ValueError, "<unk>"):
            ctc_beam.PrefixBeamSearch(lm)

    def test_arpa_round_trip_decodes_alike(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "lm.arpa")
            write_arpa(self.lm, path)
            loaded = read_arpa(path)
        logits = self.near_tie()
        a = ctc_beam.decode_hypothesis(logits, self.lm)
        b = ctc_beam.decode_hypothesis(logits, loaded)
        self.assertEqual(a.text, b.text)
        self.assertAlmostEqual(a.score, b.score, delta=1e-4)  # ARPA keeps 6 decimals


class Streaming(unittest.TestCase):
    def test_best_text_at_every_frame_is_the_decode_of_the_frames_so_far(self):
        rng = np.random.default_rng(9)
        logits = spell("my cat ran", rng)
        lm = LanguageModel.lm
        search = ctc_beam.PrefixBeamSearch(lm)
        for t, row in enumerate(logits):
            search.push(row)
            if t % 7 == 0:
                self.assertEqual(search.best_text(), ctc_beam.decode(logits[:t + 1], lm))
        self.assertEqual(search.best_text(), "my cat ran")

    def test_word_times_are_the_frames_of_first_and_last_characters(self):
        rows = [0, index("a"), index("a"), 0, index("b"), 0, SPACE_INDEX, 0, index("c"), 0]
        logits = np.full((len(rows), V), -8.0)
        logits[np.arange(len(rows)), rows] = 8.0
        words = ctc_beam.decode_hypothesis(logits, None).words
        self.assertEqual([(w.text, w.first_frame, w.last_frame) for w in words],
                         [("ab", 1, 4), ("c", 8, 8)])

    def test_a_small_pending_bound_commits_and_still_decodes(self):
        rng = np.random.default_rng(10)
        logits = spell("the cat sat down", rng)
        lm = LanguageModel.lm
        bounded = ctc_beam.PrefixBeamSearch(lm, max_pending_labels=4)
        for row in logits:
            bounded.push(row)
            longest = max(len(p.labels) for p in bounded.prefixes)
            self.assertLessEqual(longest - bounded.committed, 4)
        self.assertGreater(bounded.committed, 8)
        self.assertEqual(bounded.best_text(), ctc_beam.decode(logits, lm))


class Settings(unittest.TestCase):
    def test_bad_settings_are_refused(self):
        with self.assertRaisesRegex(ValueError, "beam"):
            ctc_beam.PrefixBeamSearch(None, beam=0)
        with self.assertRaisesRegex(ValueError, "finite"):
            ctc_beam.PrefixBeamSearch(None, lm_weight=math.nan)

    def test_defaults_are_the_engines(self):
        """engine/ctc_beam_settings.hpp is where the lead tunes them; this mirror must follow."""
        with open(os.path.join(_ROOT, "engine", "ctc_beam_settings.hpp"), encoding="utf-8") as f:
            header = f.read()
        constants = dict(re.findall(r"constexpr \S+ (k\w+) = ([-0-9.]+);", header))
        self.assertEqual(int(constants["kDefaultBeam"]), ctc_beam.DEFAULT_BEAM)
        self.assertEqual(float(constants["kDefaultLmWeight"]), ctc_beam.DEFAULT_LM_WEIGHT)
        self.assertEqual(float(constants["kDefaultWordBonus"]), ctc_beam.DEFAULT_WORD_BONUS)
        self.assertEqual(int(constants["kDefaultPruneTopK"]), ctc_beam.DEFAULT_PRUNE_TOP_K)
        self.assertEqual(float(constants["kDefaultPruneLogProb"]), ctc_beam.DEFAULT_PRUNE_LOG_PROB)
        self.assertEqual(int(constants["kDefaultMaxPendingLabels"]),
                         ctc_beam.DEFAULT_MAX_PENDING_LABELS)


class Fixture(unittest.TestCase):
    def test_the_golden_fixture_is_what_the_reference_computes(self):
        self.assertEqual(make_beam_fixture.check(os.path.join(_ROOT, "data", "fixtures")), 0)


if __name__ == "__main__":
    unittest.main()
