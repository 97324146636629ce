#!/usr/bin/env python3
"""Tests of the recogniser's training-side pieces: text normalisation and the CTC vocabulary,
WER/CER and their intervals, the n-gram LM, and the held-out evaluation set's data policy.

    /usr/bin/python3 models/train/asr/test_asr_text.py [-v]

Plain unittest; about ten seconds. Checks that need pocketsphinx's dictionary or the rendered
eval shard (build/speech/eval_000.ssc) are skipped, visibly, when those are absent.
"""
import os
import stat
import sys
import tempfile
import unittest

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_REPO_ROOT = os.path.dirname(os.path.dirname(_TRAIN_DIR))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import error_rates, evaluate_asr, ngram_lm  # noqa: E402
from asr import text as asr_text  # noqa: E402
from speech import sentences  # noqa: E402

EVAL_SHARD = os.path.join(_REPO_ROOT, "build", "asr_speech", "eval_asr_000.ssc")


class NormaliseTest(unittest.TestCase):
    def test_examples(self):
        cases = {
            "Hello, World!": "hello world",
            "It's 42.": "it's forty two",
            "The 21st of May, 1,200 people": "the twenty first of may one thousand two hundred "
                                             "people",
            "pi is 3.14": "pi is three point one four",
            "meet at 7:05 or 10:00": "meet at seven oh five or ten o'clock",
            "15% off & $3.50": "fifteen percent off and three dollars and fifty cents",
            "\u00a31 and \u20ac20": "one pound and twenty euros",
            "it fell to -4 degrees": "it fell to minus four degrees",
            "a well-known co-op": "a well known co op",
            "'Quoted' don\u2019t": "quoted don't",
            "Caf\u00e9 105": "cafe one hundred five",
            "  ": "",
        }
        for raw, expected in cases.items():
            with self.subTest(raw=raw):
                self.assertEqual(asr_text.normalise(raw), expected)
                self.assertEqual(asr_text.normalise(expected), expected, "not idempotent")
                self.assertTrue(asr_text.is_normalised(expected))

    def test_corpus_transcripts_are_fixed_points(self):
        generator = sentences.SentenceGenerator(17)
        for _ in range(2000):
            sentence = generator.next()
            self.assertEqual(asr_text.normalise(sentence.display), sentence.text)
            self.assertEqual(asr_text.normalise(sentence.text), sentence.text)

    def test_scoring_form_maps_american_spellings_only(self):
        self.assertEqual(asr_text.scoring_form("Five Meters of gray yogurt"),
                         "five metres of grey yoghurt")
        self.assertEqual(asr_text.scoring_form("five metres"), "five metres")
        # Each target must be a word our sentences use, or the entry would never matter; the
        # unit names are listed too, since a singular ("one litre") is rare in a sample.
        used = {word for pair in sentences.UNITS for word in pair}
        generator = sentences.SentenceGenerator(3)
        for _ in range(20000):
            used.update(generator.next().text.split())
        self.assertEqual({v for v in asr_text.SCORING_SPELLINGS.values() if v not in used}, set())


class VocabularyTest(unittest.TestCase):
    def test_layout(self):
        self.assertEqual(len(asr_text.VOCABULARY), 29)
        self.assertEqual(asr_text.VOCABULARY[asr_text.BLANK_INDEX], asr_text.BLANK)
        self.assertEqual(asr_text.BLANK_INDEX, 0)
        self.assertEqual(asr_text.VOCABULARY[asr_text.SPACE_INDEX], " ")
        self.assertEqual(set(asr_text.VOCABULARY[1:]), set(sentences.ALPHABET))

    def test_round_trip(self):
        for transcript in ["it's twenty past nine", "a", "zoe's quick fox", "x y z"]:
            labels = asr_text.encode(transcript)
            self.assertNotIn(asr_text.BLANK_INDEX, labels)
            self.assertEqual(len(labels), len(transcript))
            self.assertEqual(asr_text.decode(labels), transcript)
        self.assertEqual(asr_text.encode("ab"), [3, 4])

    def test_rejects_text_outside_the_alphabet(self):
        for bad in ["Hello", "two 2", "a-b", "caf\u00e9"]:
            with self.assertRaises(ValueError, msg=bad):
                asr_text.encode(bad)
        with self.assertRaises(ValueError):
            asr_text.decode([29])

    def test_ctc_collapse(self):
        a, b, space = asr_text.encode("a")[0], asr_text.encode("b")[0], asr_text.SPACE_INDEX
        blank = asr_text.BLANK_INDEX
        frames = [blank, a, a, blank, a, b, b, blank, space, space, b, blank]
        self.assertEqual(asr_text.decode(asr_text.ctc_collapse(frames)), "aab b")
        self.assertEqual(asr_text.ctc_collapse([blank, blank]), [])


class ErrorRateTest(unittest.TestCase):
    def test_known_alignments(self):
        cases = [  # reference, hypothesis, (S, D, I)
            ("the cat sat", "the cat sat", (0, 0, 0)),
            ("a b c d", "a x c", (1, 1, 0)),
            ("a b", "a b c d", (0, 0, 2)),
            ("one two three", "", (0, 3, 0)),
            ("", "noise", (0, 0, 1)),
            ("the big dog", "big dog barked", (0, 1, 1)),
        ]
        for reference, hypothesis, expected in cases:
            with self.subTest(reference=reference, hypothesis=hypothesis):
                counts = error_rates.word_edits(reference, hypothesis)
                self.assertEqual((counts.substitutions, counts.deletions, counts.insertions),
                                 expected)
                self.assertEqual(counts.reference_length, len(reference.split()))
        self.assertEqual(error_rates.edit_counts("kitten", "sitting").errors, 3)

    def test_characters_count_spaces(self):
        self.assertEqual(error_rates.char_edits("abc", "abd").errors, 1)
        joined = error_rates.char_edits("ab cd", "abcd")
        self.assertEqual((joined.deletions, joined.errors, joined.reference_length), (1, 1, 5))
        self.assertEqual(error_rates.char_edits("a  b ", "a b").errors, 0)

    def test_corpus_rate_is_a_ratio_of_sums(self):
        table = error_rates.score_pairs(["a b", "c d e f g h i j"], ["a x", "c d e f g h i j"])
        self.assertEqual(table["word_errors"], [1, 0])
        summary = error_rates.summarise(table)
        self.assertAlmostEqual(summary["wer"]["rate"], 0.1)  # 1 / 10, not (0.5 + 0) / 2

    def test_bootstrap_intervals(self):
        rng = np.random.default_rng(5)
        lengths = rng.integers(3, 15, size=300)
        errors = rng.binomial(lengths, 0.2)
        rate, low, high = error_rates.bootstrap_rate_ci(errors, lengths)
        self.assertLess(low, rate)
        self.assertLess(rate, high)
        self.assertLess(high - low, 0.08)
        again = error_rates.bootstrap_rate_ci(errors, lengths)
        self.assertEqual((rate, low, high), again, "seeded: must repeat exactly")
        no_errors = error_rates.bootstrap_rate_ci(np.zeros_like(lengths), lengths)
        self.assertEqual(no_errors, (0.0, 0.0, 0.0))
        same = error_rates.bootstrap_paired_difference_ci(errors, errors, lengths)
        self.assertEqual(same, (0.0, 0.0, 0.0))
        better = error_rates.bootstrap_paired_difference_ci(errors // 2, errors, lengths)
        self.assertLess(better[2], 0.0, "halving every error count must be clearly better")


class NgramLmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = ngram_lm.training_sentences(1500, seed=11)

    def _assert_normalised(self, model):
        words = [w for w in model.vocabulary if w != ngram_lm.BOS]
        histories = [(), ("<s>",), ("never", "seen"), ("the", "qqq")]
        histories += list(model.entries[1])[:150] + [(w,) for w in words[:60]]
        for history in histories:
            total = sum(10.0 ** model.log10_prob(w, history) for w in words)
            self.assertAlmostEqual(total, 1.0, delta=1e-4, msg=f"history {history}")

    def test_probabilities_sum_to_one_after_arpa_round_trip(self):
        with tempfile.TemporaryDirectory() as directory:
            for min_counts in ([1, 1, 1], [1, 1, 2], [1, 2, 3]):
                with self.subTest(min_counts=min_counts):
                    model = ngram_lm.train_kneser_ney(self.text, 3, min_counts)
                    path = os.path.join(directory, "lm.arpa")
                    ngram_lm.write_arpa(model, path)
                    loaded = ngram_lm.read_arpa(path)
                    self.assertEqual([len(level) for level in loaded.entries],
                                     [len(level) for level in model.entries])
                    self._assert_normalised(loaded)

    def test_pruning_keeps_arpa_prefixes(self):
        model = ngram_lm.train_kneser_ney(self.text, 3, [1, 2, 2])
        for k in (2, 3):
            for ngram in model.entries[k - 1]:
                self.assertIn(ngram[:-1], model.entries[k - 2])
                self.assertIn(ngram[1:], model.entries[k - 2])

    def test_hand_computed_bigram(self):
        # Corpus "a b", "a b", "a c". Order-2 raw counts 3, 2, 2, 1, 1 give Y = 1/3,
        # D1 = 1/3, D2 = 1.5, D3+ falls back to 1.5. Unigram continuation counts a, b, c: 1,
        # </s>: 2 (fallback discounts 0.5, 1, 1.5) over 5 predicted words (with <unk>):
        # p(b) = 0.5/5 + 0.5/5 = 0.2, p(</s>) = 1/5 + 0.1 = 0.3. gamma(a) = 1 - 0.5/3 - (2/3)/3
        # = 11/18, so p(b | a) = 0.5/3 + 11/18 * 0.2 = 26/90 and p(</s> | a) = 11/18 * 0.3.
        model = ngram_lm.train_kneser_ney([["a", "b"], ["a", "b"], ["a", "c"]], order=2)
        self.assertAlmostEqual(10 ** model.log10_prob("b", ["a"]), 26 / 90, places=9)
        self.assertAlmostEqual(10 ** model.log10_prob("</s>", ["a"]), 11 / 60, places=9)
        self.assertAlmostEqual(10 ** model.log10_prob("b", []), 0.2, places=9)
        self.assertAlmostEqual(10 ** model.log10_prob("never", ["a"]), 11 / 18 * 0.1, places=9)

    def test_only_training_sentences(self):
        evaluation = sentences.sentences_for_split("eval", 4, 5)
        for sentence in evaluation:
            with self.assertRaises(ValueError):
                ngram_lm.checked_training_text(sentence.text)
        self.assertTrue(all(sentences.split_of(" ".join(words)) == "train"
                            for words in self.text))
        excluded = {sentences.sentence_id(" ".join(self.text[0]))}
        again = ngram_lm.training_sentences(50, seed=11, exclude_ids=excluded)
        self.assertNotIn(self.text[0], again)


def _fake_eval_utterances(count: int, seed: int = 0):
    """Eval-shard-like utterances: real eval-split sentences, the recogniser's held-out voices
    (flite rms at 16 kHz, espeak-ng en-gb-scotland at 22.05 kHz), noise audio."""
    rng = np.random.default_rng(seed)
    utterances = []
    for index, sentence in enumerate(sentences.sentences_for_split("eval", seed, count)):
        rate = 22050 if index % 2 else 16000
        voice = "espeak-ng:en-gb-scotland+m3:s=160:p=50" if index % 2 else "flite:rms:stretch=1.00"
        length = (3200 + 160 * index) * rate // 16000
        audio = rng.normal(0.0, 0.1, length) * np.hanning(length)
        utterances.append({"audio": audio.astype(np.float32), "sample_rate": rate,
                           "text": sentence.text, "voice": voice,
                           "split": "eval", "sentence_id": sentence.sentence_id})
    return utterances


class EvalSetTest(unittest.TestCase):
    def test_only_eval_voices_and_sentences(self):
        utterances = _fake_eval_utterances(50)
        items = evaluate_asr.build_eval_set(utterances, seed=3, babble_utterances=10)
        self.assertEqual(len(items), 80)
        for item in items:
            self.assertIn(item.speaker, ("en-gb-scotland", "rms"))
            self.assertEqual(sentences.split_of(item.text), "eval")
            self.assertEqual(item.audio.dtype, np.float32)
            self.assertLessEqual(float(np.max(np.abs(item.audio))), evaluate_asr.PEAK_LIMIT)
        targets, babble = evaluate_asr.split_pools(utterances, seed=3, babble_utterances=10)
        self.assertFalse({u["sentence_id"] for u in targets} & {u["sentence_id"] for u in babble})
        noisy = [item for item in items if item.condition == "noisy"]
        self.assertEqual(len({(i.noise, i.snr_db) for i in noisy}), 40, "all 40 pairs once")
        self.assertTrue(all(0.0 <= i.snr_db <= 20.0 for i in noisy))

    def test_refuses_training_voices_and_sentences(self):
        utterances = _fake_eval_utterances(20)
        bad_voice = [dict(u) for u in utterances]
        bad_voice[7]["voice"] = "espeak-ng:en-us+m3:s=160:p=40"
        with self.assertRaisesRegex(ValueError, "utterance 7"):
            evaluate_asr.build_eval_set(bad_voice, babble_utterances=5)
        trained_flite = [dict(u) for u in utterances]       # awb trains the recogniser
        trained_flite[4]["voice"] = "flite:awb:stretch=1.00"
        with self.assertRaisesRegex(ValueError, "utterance 4"):
            evaluate_asr.build_eval_set(trained_flite, babble_utterances=5)
        training = sentences.sentences_for_split("train", 1, 1)[0]
        bad_sentence = [dict(u) for u in utterances]
        bad_sentence[3].update(text=training.text, sentence_id=training.sentence_id)
        with self.assertRaisesRegex(ValueError, "utterance 3"):
            evaluate_asr.build_eval_set(bad_sentence, babble_utterances=5)

    def test_deterministic_and_prefix_stable(self):
        utterances = _fake_eval_utterances(30)
        full = evaluate_asr.build_eval_set(utterances, seed=2, babble_utterances=6)
        again = evaluate_asr.build_eval_set(utterances, seed=2, babble_utterances=6)
        short = evaluate_asr.build_eval_set(utterances, seed=2, limit=4, babble_utterances=6)
        self.assertEqual(evaluate_asr.set_fingerprint(full), evaluate_asr.set_fingerprint(again))
        self.assertEqual(evaluate_asr.set_fingerprint(short),
                         evaluate_asr.set_fingerprint(full[:8]))
        other = evaluate_asr.build_eval_set(utterances, seed=9, babble_utterances=6)
        self.assertNotEqual(evaluate_asr.set_fingerprint(full),
                            evaluate_asr.set_fingerprint(other))

    def test_rendered_eval_shard(self):
        if not os.path.exists(EVAL_SHARD):
            self.skipTest(f"{EVAL_SHARD} not rendered (models/train/speech/README.md)")
        from speech.shard import read_shard_header
        utterances = read_shard_header(EVAL_SHARD)["utterances"]
        speakers = {evaluate_asr.check_eval_utterance(u, i) for i, u in enumerate(utterances)}
        self.assertEqual(speakers, {"en-gb-scotland", "rms"})
        self.assertGreaterEqual(len(utterances) - evaluate_asr.BABBLE_POOL_UTTERANCES,
                                evaluate_asr.MIN_TEST_UTTERANCES)


class EngineContractTest(unittest.TestCase):
    def test_transcribe_jsonl(self):
        parse = evaluate_asr.parse_transcribe_jsonl
        output = ('{"schema": "x", "text": "the ca", "final": false}\n'
                  '{"text": "the cat", "final": true}\n\n{"text": "sat", "final": true}\n')
        self.assertEqual(parse(output), "the cat sat")
        self.assertEqual(parse('{"text": "a"}\n{"text": "a b"}\n{"done": 1}\n'), "a b")
        self.assertEqual(parse(""), "")
        with self.assertRaises(RuntimeError):
            parse("not json\n")

    def test_statestream_cli_engine(self):
        with tempfile.TemporaryDirectory() as directory:
            binary = os.path.join(directory, "statestream")
            with open(binary, "w") as handle:
                handle.write('#!/bin/sh\n[ $# -eq 4 ] && [ "$1" = transcribe ] && '
                             '[ "$2" = --format ] && [ "$3" = jsonl ] && [ -f "$4" ] || exit 2\n'
                             'echo \'{"text": "hello there", "final": true}\'\n')
            os.chmod(binary, os.stat(binary).st_mode | stat.S_IXUSR)
            engine = evaluate_asr.StatestreamCli(binary, None, directory)
            self.assertEqual(engine(np.zeros(1600, np.float32), 16000, "u"), "hello there")
            failing = evaluate_asr.StatestreamCli(binary, "model.safetensors", directory)
            with self.assertRaisesRegex(RuntimeError, "exited with 2"):
                failing(np.zeros(1600, np.float32), 16000, "u")

    def test_pocketsphinx_dictionary_covers_our_words(self):
        from asr import pocketsphinx_baseline as baseline
        if not os.path.exists(baseline.CMU_DICTIONARY):
            self.skipTest(f"{baseline.CMU_DICTIONARY} missing (Debian pocketsphinx-en-us)")
        words = set()
        for words_of in ngram_lm.training_sentences(20000, seed=5):
            words.update(words_of)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "lm.dict")
            self.assertEqual(baseline.write_dictionary(words, path), [])
            with open(path) as handle:
                written = {line.split()[0].split("(")[0] for line in handle}
        self.assertEqual(written, words)


if __name__ == "__main__":
    unittest.main()
