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


def final(at_s, *words):
    return {"type": "final", "at_s": at_s, "text": " ".join(words),
            "words": [{"word": w} for w in words]}


def partial(at_s, text):
    return {"type": "partial", "at_s": at_s, "text": text}


class RevisedPartialsTest(unittest.TestCase):
    """A beam search may rewrite what a partial showed: a word's first appearance and the
    moment it settles (stays as in the final) then differ."""
    # "go" is shown at 0.50, replaced by "got" at 0.60, back at 0.70 and stays.
    events = [partial(0.30, "we"), partial(0.50, "we go"), partial(0.60, "we got"),
              partial(0.70, "we go on"), final(1.50, "we", "go", "on")]

    def test_first_appearance_and_settled_time_of_a_revised_word(self):
        emissions = lr.word_emissions(self.events)
        self.assertEqual([e.word.text for e in emissions], ["we", "go", "on"])
        self.assertEqual([e.first_appearance for e in emissions], [0.30, 0.50, 0.70])
        self.assertEqual([e.settled for e in emissions], [0.30, 0.70, 0.70])
        self.assertTrue(all(e.in_last_partial for e in emissions))

    def test_a_partial_revises_when_it_does_not_extend_the_previous_text(self):
        # "we go" -> "we got" extends it (the open word grew); "we got" -> "we go on" does not.
        self.assertEqual(lr.revising_partials(self.events), (1, 4))
        greedy_like = [partial(0.3, "w"), partial(0.33, "we"), partial(0.5, "we g"),
                       final(1.2, "we", "g")]
        self.assertEqual(lr.revising_partials(greedy_like), (0, 3))

    def test_a_word_the_last_partial_does_not_show_settles_with_the_final(self):
        events = [partial(0.3, "x"), partial(0.4, "y"), final(1.2, "x"),
                  partial(1.5, "a b"), final(2.0, "a", "c")]
        emissions = lr.word_emissions(events)
        self.assertEqual([(e.first_appearance, e.settled, e.in_last_partial) for e in emissions],
                         [(0.3, 1.2, False), (1.5, 1.5, True), (2.0, 2.0, False)])

    def test_segments_are_counted_apart_and_an_unclosed_segment_is_left_out(self):
        events = [partial(0.3, "a"), final(1.0, "a"), partial(1.4, "a b"), final(2.0, "a", "b"),
                  partial(2.5, "z")]
        emissions = lr.word_emissions(events)
        # the second segment's "a" is its own word, first shown at 1.4 (not at 0.3)
        self.assertEqual([(e.word.text, e.first_appearance) for e in emissions],
                         [("a", 0.3), ("a", 1.4), ("b", 1.4)])
        self.assertEqual(lr.revising_partials(events), (0, 2))

    def test_measure_reports_settled_and_first_appearance_latencies_for_a_beam_search(self):
        references = [{"json": "a.words.json", "audio": "a.wav",
                       "words": [W("we", 0.10, 0.28), W("go", 0.28, 0.45), W("on", 0.45, 0.66)]}]
        timing = lr.Timing(compute=0.0002)
        figures = lr.measure(references, None, {"a.wav": self.events}, timing, decoder="beam")
        self.assertEqual(figures["decoder"], "beam+lm")
        self.assertEqual(figures["emitted_words"], 3)
        per_file = figures["per_file"][0]
        expected_settled = [0.30 - 0.28, 0.70 - 0.45, 0.70 - 0.66]
        expected_first = [0.30 - 0.28, 0.50 - 0.45, 0.70 - 0.66]
        for got, want in zip(per_file["emission_s"], expected_settled):
            self.assertAlmostEqual(got, want + 0.0002, places=4)
        for got, want in zip(per_file["first_appearance_s"], expected_first):
            self.assertAlmostEqual(got, want + 0.0002, places=4)
        self.assertAlmostEqual(figures["emission_s"]["max"], 0.25 + 0.0002)
        self.assertAlmostEqual(figures["first_appearance_s"]["max"], 0.05 + 0.0002)
        self.assertEqual((figures["revising_partials"], figures["partials"]), (1, 4))
        self.assertEqual((figures["revised_words"], figures["hypothesis_words"]), (1, 3))
        self.assertEqual(figures["words_settled_only_by_the_final"], 0)
        # the formula's checks are greedy's only
        self.assertNotIn("emission_formula_disagreements", figures)

    def test_a_word_first_shown_before_its_reference_began_is_not_that_word(self):
        # "a" glimpsed at 0.33 (a garbled "i"), revised, then "a" again once the spoken "a"
        # (0.70-0.80) is heard: it first appeared before the reference began, so it is another
        # occurrence, as for greedy decoding.
        events = [partial(0.33, "a"), partial(0.50, "i"), partial(0.85, "a"), final(1.7, "a")]
        references = [{"json": "x.words.json", "audio": "x.wav", "words": [W("a", 0.70, 0.80)]}]
        figures = lr.measure(references, None, {"x.wav": events}, lr.Timing(), decoder="beam")
        self.assertEqual(figures["emitted_words"], 0)
        self.assertEqual(figures["revised_words"], 1)

    def test_greedy_partials_give_equal_settled_and_first_appearance(self):
        references = [{"json": "a.words.json", "audio": "a.wav", "words": [W("one", 0.1, 0.4)]}]
        events = [partial(0.21, "o"), partial(0.45, "one"), final(1.3, "one")]
        figures = lr.measure(references, {"a.wav": [W("one", 0.2, 0.45)]}, {"a.wav": events},
                             lr.Timing())
        self.assertEqual(figures["emission_s"], figures["first_appearance_s"])
        self.assertEqual((figures["revising_partials"], figures["revised_words"]), (0, 0))
        self.assertEqual(figures["emission_formula_disagreements"], 0)


class RunningTheEngineTest(unittest.TestCase):
    def setUp(self):
        self.commands = []
        self.stdout = ""
        self.saved = lr.run_statestream

        def fake(command, shown=None):
            self.commands.append(list(command))
            return self.stdout
        lr.run_statestream = fake

    def tearDown(self):
        lr.run_statestream = self.saved

    def test_replay_asks_for_the_chosen_decoder(self):
        self.stdout = json.dumps(dict(partial(0.3, "a"), decoder="greedy")) + "\n"
        lr.run_replay("statestream", None, "a.wav", 0.8, "greedy")
        self.assertIn("--lm", self.commands[-1])
        self.assertEqual(self.commands[-1][self.commands[-1].index("--lm") + 1], "none")
        self.stdout = json.dumps(dict(partial(0.3, "a"), decoder="beam+lm")) + "\n"
        events = lr.run_replay("statestream", "m.safetensors", "a.wav", 0.8, "beam")
        self.assertNotIn("--lm", self.commands[-1])
        self.assertEqual(events[0]["text"], "a")

    def test_replay_refuses_events_of_another_decoder(self):
        # no LM beside the model: the default decoder is greedy, not the beam search asked for
        self.stdout = json.dumps(dict(partial(0.3, "a"), decoder="greedy")) + "\n"
        with self.assertRaises(SystemExit) as raised:
            lr.run_replay("statestream", None, "a.wav", 0.8, "beam")
        self.assertIn("greedy", str(raised.exception))
        self.assertIn("transcriber.lm.arpa", str(raised.exception))

    def test_a_bench_output_without_per_decoder_chains_is_refused(self):
        with self.assertRaises(SystemExit) as raised:
            lr.bench_chain({"schema": "statestream.bench.transcribe/1", "chain": {}}, "greedy")
        self.assertIn("bench.transcribe/2", str(raised.exception))
        with self.assertRaises(SystemExit):
            lr.bench_chain({"chains": {"greedy": {}}}, "beam+lm")


class MarkdownTest(unittest.TestCase):
    def test_one_column_per_decoder_and_streams_for_the_default_only(self):
        us = {"p50": 180.0, "p99": 400.0}
        chain = {"step_us": us, "decoder_us": {"p50": 8.0, "p99": 20.0}, "rtf": 0.018,
                 "rtfx": 55.6}
        bench = {"latency": {"algorithmic_ms": 10.0, "hop_ms": 10.0, "lookahead_ms": 0.0,
                             "window_ms": 25.0},
                 "chains": {"beam+lm": chain, "greedy": dict(chain, decoder_us=us)},
                 "streams": {"decoder": "beam+lm", "budget_share": 0.7, "max_streams_fit": 2,
                             "rows": [{"streams": 2, "step_us": us, "round_us": us}]}}
        references = [{"json": "a.words.json", "audio": "a.wav", "words": [W("one", 0.1, 0.4)]}]
        events = [partial(0.45, "one"), final(1.3, "one")]
        decoders = {}
        for key, name in (("beam", "beam+lm"), ("greedy", "greedy")):
            decoders[name] = {"timing": {"compute": 0.00018},
                              "figures": lr.measure(references, None, {"a.wav": events},
                                                    lr.Timing(), key)}
        text = lr.markdown({"bench": bench, "decoders": decoders, "endpoint": 0.8})
        self.assertIn("| figure | beam+lm | greedy | how |", text)
        streams_row = next(line for line in text.splitlines() if "N = 2 streams" in line)
        self.assertEqual(streams_row.split(" | ")[1:3], ["0.18 / 0.40 ms", "-"])


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
