#!/usr/bin/env python3
"""Tests of the latency report's arithmetic and word alignment (latency_report.py), and of the
word-time checks that feed it (word_times.py).

    /usr/bin/python3 models/train/asr/test_latency_report.py [-v]

Plain unittest, under a second; needs neither the engine nor flite.
"""
import json
import os
import sys
import tempfile
import unittest

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import latency_report as lr  # noqa: E402
from asr import word_times  # noqa: E402

W = lr.Word


class AlignWordsTest(unittest.TestCase):
    def test_identical_sequences_pair_every_word(self):
        self.assertEqual(lr.align_words(["a", "b", "c"], ["a", "b", "c"]),
                         [(0, 0), (1, 1), (2, 2)])

    def test_substitution_is_not_a_match(self):
        self.assertEqual(lr.align_words(["the", "cat", "sat"], ["the", "cap", "sat"]),
                         [(0, 0), (2, 2)])

    def test_insertion_and_deletion_shift_the_pairs(self):
        # hypothesis inserts "uh" and drops "sat"
        self.assertEqual(lr.align_words(["the", "cat", "sat", "down"],
                                        ["uh", "the", "cat", "down"]),
                         [(0, 1), (1, 2), (3, 3)])

    def test_repeated_word_pairs_once(self):
        pairs = lr.align_words(["go", "go"], ["go"])
        self.assertEqual(len(pairs), 1)
        self.assertEqual(pairs[0][1], 0)

    def test_empty_sides(self):
        self.assertEqual(lr.align_words([], ["a"]), [])
        self.assertEqual(lr.align_words(["a"], []), [])

    def test_number_of_pairs_is_the_longest_alignable_match(self):
        reference = "a b c d e f".split()
        hypothesis = "x b c y e z f".split()
        pairs = lr.align_words(reference, hypothesis)
        self.assertEqual([(reference[r], hypothesis[h]) for r, h in pairs],
                         [("b", "b"), ("c", "c"), ("e", "e"), ("f", "f")])
        self.assertTrue(all(reference[r] == hypothesis[h] for r, h in pairs))


class LatencyArithmeticTest(unittest.TestCase):
    timing = lr.Timing(hop=0.01, resampler_delay=0.003, lookahead=0.0, compute=0.0002,
                       endpoint=0.8)

    def test_emission_is_word_end_plus_delays_minus_reference_end(self):
        reference = [W("hello", 0.10, 0.50), W("there", 0.50, 0.90)]
        hypothesis = [W("hello", 0.30, 0.62), W("their", 0.70, 1.00)]
        latencies = lr.emission_latencies(reference, hypothesis, self.timing)
        self.assertEqual(len(latencies), 1)  # "their" is not "there"
        index, latency = latencies[0]
        self.assertEqual(index, 0)
        self.assertAlmostEqual(latency, 0.62 + 0.003 + 0.0 + 0.0002 - 0.50, places=12)

    def test_lookahead_adds_one_for_one(self):
        reference, hypothesis = [W("a", 0.0, 0.2)], [W("a", 0.1, 0.25)]
        base = lr.emission_latencies(reference, hypothesis, lr.Timing())[0][1]
        later = lr.emission_latencies(reference, hypothesis, lr.Timing(lookahead=0.04))[0][1]
        self.assertAlmostEqual(later - base, 0.04, places=12)

    def test_early_emission_is_negative(self):
        latencies = lr.emission_latencies([W("a", 0.0, 0.5)], [W("a", 0.1, 0.45)], lr.Timing())
        self.assertAlmostEqual(latencies[0][1], -0.05, places=12)

    def test_a_word_written_before_its_reference_began_is_another_occurrence(self):
        # "i heard a sheep a bee" read as "a ardishe a ti": the first "a" (written at 0.33 s)
        # is the garbled "i"; it cannot be the "a" that starts at 0.70 s. The plain alignment
        # pairs them; the causal rule leaves only the second "a".
        reference = [W("i", 0.20, 0.42), W("heard", 0.42, 0.70), W("a", 0.70, 0.80),
                     W("sheep", 0.80, 1.32), W("a", 1.47, 1.54), W("bee", 1.54, 2.01)]
        hypothesis = [W("a", 0.32, 0.33), W("ardishe", 0.59, 0.99), W("a", 1.57, 1.58),
                      W("ti", 1.73, 1.76)]
        texts = ([w.text for w in reference], [w.text for w in hypothesis])
        self.assertEqual(lr.align_words(*texts), [(2, 0), (4, 2)])
        latencies = lr.emission_latencies(reference, hypothesis, lr.Timing())
        self.assertEqual([index for index, _ in latencies], [4])
        self.assertAlmostEqual(latencies[0][1], 1.58 - 1.54, places=12)

    def test_scoring_form_forgives_spelling_variants_and_lone_apostrophes_never_match(self):
        reference = [W("metre", 0.0, 0.4), W("o", 0.4, 0.5)]
        hypothesis = [W("meter", 0.1, 0.45), W("'", 0.5, 0.6)]
        latencies = lr.emission_latencies(reference, hypothesis, lr.Timing())
        self.assertEqual([index for index, _ in latencies], [0])

    def test_final_formula_comes_endpoint_frames_after_the_last_character(self):
        hypothesis = [W("a", 0.1, 0.2), W("b", 0.5, 2.67)]
        self.assertEqual(self.timing.endpoint_frames, 80)
        self.assertAlmostEqual(lr.final_time(hypothesis, self.timing),
                               2.67 + 0.003 + 0.80 + 0.0002, places=12)
        self.assertIsNone(lr.final_time([], self.timing))

    def test_replay_latencies_use_the_first_partial_and_the_last_final(self):
        reference = [W("we", 0.15, 0.30), W("go", 0.40, 2.79)]
        events = [{"type": "partial", "at_s": 0.31, "text": "w"},
                  {"type": "partial", "at_s": 0.33, "text": "we"},
                  {"type": "final", "at_s": 1.20, "text": "we", "words": []},
                  {"type": "partial", "at_s": 2.50, "text": "go"},
                  {"type": "final", "at_s": 3.47, "text": "go", "words": []}]
        first, delay = lr.replay_latencies(reference, events, self.timing)
        self.assertAlmostEqual(first, 0.31 + 0.0002 - 0.15, places=12)
        self.assertAlmostEqual(delay, 3.47 + 0.0002 - 2.79, places=12)
        self.assertEqual(lr.replay_latencies(reference, [], self.timing), (None, None))

    def test_partial_emission_times_count_words_per_segment(self):
        events = [{"type": "partial", "at_s": 0.31, "text": "w"},
                  {"type": "partial", "at_s": 0.33, "text": "we"},
                  {"type": "partial", "at_s": 0.50, "text": "we g"},
                  {"type": "partial", "at_s": 0.62, "text": "we go"},
                  {"type": "partial", "at_s": 0.70, "text": "we gon"},
                  {"type": "final", "at_s": 1.5, "text": "we gon",
                   "words": [{"word": "we"}, {"word": "gon"}]},
                  {"type": "partial", "at_s": 2.0, "text": "by"},
                  {"type": "final", "at_s": 2.9, "text": "by", "words": [{"word": "by"}]}]
        # "go" is whole at 0.62 but the final word is "gon": complete at 0.70.
        self.assertEqual(lr.partial_emission_times(events), [0.33, 0.70, 2.0])

    def test_endpoint_frames_round_like_the_sink(self):
        # TranscriptSink rounds endpoint / hop with std::lround: halves away from zero.
        self.assertEqual(lr.Timing(endpoint=0.805).endpoint_frames, 81)
        self.assertEqual(lr.Timing(endpoint=0.804).endpoint_frames, 80)
        self.assertEqual(lr.Timing(endpoint=0.1).endpoint_frames, 10)

    def test_summary(self):
        result = lr.summary([0.1, 0.2, 0.3, 0.4, 1.0])
        self.assertAlmostEqual(result["median"], 0.3)
        self.assertAlmostEqual(result["p90"], 0.76)  # linear between 0.4 and 1.0
        self.assertEqual(result["count"], 5)
        self.assertIsNone(lr.summary([])["median"])

    def test_measure_counts_shares_over_all_reference_words(self):
        references = [{"json": "a.words.json", "audio": "a.wav",
                       "words": [W("one", 0.1, 0.4), W("two", 0.5, 0.8)]},
                      {"json": "b.words.json", "audio": "b.wav", "words": [W("three", 0.2, 0.6)]}]
        hypotheses = {"a.wav": [W("one", 0.2, 0.45), W("too", 0.6, 0.85)], "b.wav": []}
        replays = {"a.wav": [{"type": "partial", "at_s": 0.21, "text": "o"},
                             {"type": "partial", "at_s": 0.45, "text": "one"},
                             {"type": "partial", "at_s": 0.85, "text": "one too"},
                             {"type": "final", "at_s": 1.70, "text": "one too",
                              "words": [{"word": "one"}, {"word": "too"}]}],
                   "b.wav": []}
        figures = lr.measure(references, hypotheses, replays, lr.Timing())
        self.assertEqual((figures["reference_words"], figures["emitted_words"]), (3, 1))
        self.assertAlmostEqual(figures["emitted_share"], 1 / 3)
        self.assertAlmostEqual(figures["emission_s"]["median"], 0.05)
        self.assertEqual(figures["files_without_text"], 1)
        self.assertAlmostEqual(figures["first_text_s"]["median"], 0.21 - 0.1)
        self.assertAlmostEqual(figures["endpoint_delay_s"]["median"], 1.70 - 0.8)
        self.assertEqual(figures["emission_formula_disagreements"], 0)
        # 0.85 + 0.8 = 1.65 < 1.70: a space after "too" delayed the final by 5 steps
        self.assertEqual(figures["finals_after_a_trailing_emission"], 1)

    def test_measure_counts_words_whose_formula_time_no_partial_confirms(self):
        references = [{"json": "a.words.json", "audio": "a.wav", "words": [W("one", 0.1, 0.4)]}]
        hypotheses = {"a.wav": [W("one", 0.2, 0.45)]}
        replays = {"a.wav": [{"type": "partial", "at_s": 0.50, "text": "one"},
                             {"type": "final", "at_s": 1.30, "text": "one",
                              "words": [{"word": "one"}]}]}
        figures = lr.measure(references, hypotheses, replays, lr.Timing())
        self.assertEqual(figures["emission_formula_disagreements"], 1)


class LoadReferencesTest(unittest.TestCase):
    def test_refuses_audio_not_at_16_khz_naming_the_file(self):
        with tempfile.TemporaryDirectory() as folder:
            name = os.path.join(folder, "x.words.json")
            with open(name, "w", encoding="utf-8") as handle:
                json.dump({"audio": "x.wav", "sample_rate": 8000, "words": []}, handle)
            with self.assertRaises(SystemExit) as raised:
                lr.load_references([folder])
            self.assertIn("x.words.json", str(raised.exception))

    def test_an_empty_folder_says_how_to_make_files(self):
        with tempfile.TemporaryDirectory() as folder:
            with self.assertRaises(SystemExit) as raised:
                lr.load_references([folder])
            self.assertIn("word_times.py", str(raised.exception))


class WordTimeChecksTest(unittest.TestCase):
    def test_contractions_split_by_flite_make_one_word(self):
        flite_words = [("it", 0.1, 0.2), ("s", 0.2, 0.3), ("eleven", 0.3, 0.7),
                       ("oclock", 0.7, 1.1)]
        timed = word_times.match_transcript(flite_words, "it's eleven o'clock")
        self.assertEqual([(w["word"], w["start"], w["end"]) for w in timed],
                         [("it's", 0.1, 0.3), ("eleven", 0.3, 0.7), ("o'clock", 0.7, 1.1)])

    def test_words_that_do_not_spell_the_transcript_are_refused(self):
        with self.assertRaises(word_times.WordTimeError):
            word_times.match_transcript([("its", 0.1, 0.3)], "it is")
        with self.assertRaises(word_times.WordTimeError):
            word_times.match_transcript([("a", 0.1, 0.2), ("b", 0.2, 0.3)], "a")

    def test_tiling_accepts_contiguous_words_and_pauses(self):
        words = [("hello", 0.12, 0.58), ("there", 0.58, 0.91)]
        segments = [("pau", 0.12), ("hh", 0.2), ("ow", 0.58), ("dh", 0.7), ("r", 0.91),
                    ("pau", 1.03)]
        pauses = word_times.check_tiling(words, segments, 1.03)
        self.assertEqual(pauses, [(0.0, 0.12), (0.91, 1.03)])

    def test_tiling_refuses_a_gap_and_a_length_mismatch(self):
        segments = [("pau", 0.12), ("ow", 0.58), ("pau", 1.0)]
        with self.assertRaises(word_times.WordTimeError):  # the word starts late
            word_times.check_tiling([("oh", 0.2, 0.58)], segments, 1.0)
        with self.assertRaises(word_times.WordTimeError):  # audio 50 ms longer than the spans
            word_times.check_tiling([("oh", 0.12, 0.58)], segments, 1.05)


if __name__ == "__main__":
    unittest.main()
