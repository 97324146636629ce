#!/usr/bin/env python3
"""Tests of the enhancer's quality script (evaluate.py) and its CI check (check_slice.py).

    /usr/bin/python3 models/train/enhance/test_evaluate.py

The clip-set tests run on synthetic stand-in utterances shaped like eval-shard entries, so they
need no rendered speech; one more test checks the real eval shard when build/speech/eval_000.ssc
exists and says it skipped otherwise. About 10 s on one core.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from enhance import evaluate  # noqa: E402
from enhance.evaluate import (EVAL_NOISE_TYPES, SNR_GRID_DB, SPEEX_SYSTEMS,  # noqa: E402
                              best_setting, build_clips, gate_verdict, summarise_rate)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
EVAL_SHARD = os.path.join(REPO_ROOT, evaluate.DEFAULT_EVAL_SHARD)
BABBLE_FOR_TESTS = 6   # a small babble pool keeps the stand-in corpus small


def stand_in_utterance(index: int, voice: str = "flite:awb:stretch=1.00",
                       split: str = "eval") -> dict:
    """An eval-shard-like entry: 1.2 to 2 s of seeded harmonic bursts at 16 kHz, peak 1."""
    rng = np.random.default_rng(index)
    count = int(rng.uniform(1.2, 2.0) * 16000)
    t = np.arange(count) / 16000.0
    pitch_hz = rng.uniform(90.0, 160.0)
    voiced = sum(np.sin(2 * np.pi * k * pitch_hz * t) / k for k in range(1, 20))
    envelope = np.maximum(0.0, np.sin(2 * np.pi * rng.uniform(2.0, 5.0) * t)) ** 2
    audio = (voiced * envelope).astype(np.float32)
    return {"audio": audio / np.abs(audio).max(), "sample_rate": 16000, "voice": voice,
            "split": split, "sentence_id": f"s{index:04d}"}


def stand_in_corpus(count: int = 40) -> list:
    speakers = ("flite:awb:stretch=1.00", "flite:rms:stretch=1.05")
    return [stand_in_utterance(i, speakers[i % 2]) for i in range(count)]


def measured_snr_db(clip) -> float:
    clean = clip.clean.astype(np.float64)
    noise = clip.noisy.astype(np.float64) - clean
    return 10.0 * np.log10(np.sum(clean ** 2) / np.sum(noise ** 2))


class ClipSetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.corpus = stand_in_corpus()
        # 8 clips per rate: every noise type at both rates, every SNR of the grid.
        cls.clips = build_clips(cls.corpus, 8, 8, seed=3, seconds16=1.0, seconds48=0.5,
                                babble_utterances=BABBLE_FOR_TESTS)

    def test_same_seed_gives_the_same_clips(self):
        again = build_clips(self.corpus, 8, 8, seed=3, seconds16=1.0, seconds48=0.5,
                            babble_utterances=BABBLE_FOR_TESTS)
        self.assertEqual([c.name for c in again], [c.name for c in self.clips])
        for first, second in zip(self.clips, again):
            np.testing.assert_array_equal(first.noisy, second.noisy, err_msg=first.name)
            np.testing.assert_array_equal(first.clean, second.clean, err_msg=first.name)
        other_seed = build_clips(self.corpus, 1, 0, seed=4, seconds16=1.0,
                                 babble_utterances=BABBLE_FOR_TESTS)
        self.assertFalse(np.array_equal(other_seed[0].noisy, self.clips[0].noisy),
                         "a different seed should give a different set")

    def test_a_clip_does_not_depend_on_the_clip_counts(self):
        fewer = build_clips(self.corpus, 3, 1, seed=3, seconds16=1.0, seconds48=0.5,
                            babble_utterances=BABBLE_FOR_TESTS)
        kept = [c for c in self.clips if c.sample_rate == 16000][:3] + \
            [c for c in self.clips if c.sample_rate == 48000][:1]
        for first, second in zip(fewer, kept):
            self.assertEqual(first.name, second.name)
            np.testing.assert_array_equal(first.noisy, second.noisy, err_msg=first.name)

    def test_grid_and_rates(self):
        for rate, seconds in ((16000, 1.0), (48000, 0.5)):
            chosen = [c for c in self.clips if c.sample_rate == rate]
            self.assertEqual(sorted(c.noise for c in chosen), sorted(EVAL_NOISE_TYPES))
            self.assertEqual({c.snr_db for c in chosen}, set(float(s) for s in SNR_GRID_DB))
            for clip in chosen:
                self.assertEqual(clip.clean.shape, (int(rate * seconds),), clip.name)
                self.assertEqual(clip.noisy.dtype, np.float32)
        self.assertEqual({c.noise for c in self.clips if c.held_out_noise}, {"tones", "clicks"})

    def test_snr_of_every_mix_is_as_asked(self):
        for clip in self.clips:
            self.assertAlmostEqual(measured_snr_db(clip), clip.snr_db, delta=0.1, msg=clip.name)

    def test_babble_talkers_are_never_targets(self):
        targets, babble = evaluate.split_pools(self.corpus, 3, BABBLE_FOR_TESTS)
        babble_ids = {u["sentence_id"] for u in babble}
        used = {s for c in self.clips for s in c.sentence_ids}
        self.assertTrue(used)
        self.assertFalse(used & babble_ids, "a babble talker's sentence is also a target")
        self.assertEqual(sorted(targets), ["awb", "rms"])

    def test_only_eval_voices_are_accepted(self):
        for voice, split in (("flite:kal16:stretch=1.00", "train"),
                             ("espeak-ng:en-us:s=160:p=40", "eval"),
                             ("flite:awb:stretch=1.00", "train")):
            corpus = self.corpus + [stand_in_utterance(99, voice, split)]
            with self.assertRaises(ValueError, msg=f"{voice} ({split})"):
                build_clips(corpus, 1, 0, babble_utterances=BABBLE_FOR_TESTS)

    @unittest.skipUnless(os.path.exists(EVAL_SHARD),
                         f"{EVAL_SHARD} not rendered (models/train/speech/README.md)")
    def test_real_eval_shard_gives_only_awb_and_rms_sentences(self):
        utterances = evaluate.load_eval_utterances(EVAL_SHARD)
        voice_of = {u["sentence_id"]: u["voice"].split(":")[1] for u in utterances}
        clips = build_clips(utterances, 2, 1, seconds16=1.0, seconds48=0.5)
        for clip in clips:
            self.assertEqual({voice_of[s] for s in clip.sentence_ids}, {clip.speaker})
            self.assertIn(clip.speaker, ("awb", "rms"))
            self.assertAlmostEqual(measured_snr_db(clip), clip.snr_db, delta=0.1, msg=clip.name)


def speex_means(values) -> dict:
    return dict(zip(SPEEX_SYSTEMS, values))


class BestSpeexTest(unittest.TestCase):
    def test_best_setting_is_the_largest_mean(self):
        self.assertEqual(best_setting(speex_means([0.1, 0.4, 0.9, 0.3])), SPEEX_SYSTEMS[2])
        self.assertEqual(best_setting(speex_means([-2.0, -1.0, -3.0, -4.0])), SPEEX_SYSTEMS[1])
        self.assertEqual(best_setting(speex_means([0.5, 0.5, 0.2, 0.1])), SPEEX_SYSTEMS[0],
                         "a tie goes to the first setting")

    def test_summary_chooses_per_metric(self):
        # SI-SDRi is best at the third setting, STOI at the first: one choice per metric.
        sisdri = {"noisy": 0.0, "model": 5.0, **speex_means([1.0, 2.0, 3.0, 2.5])}
        stoi = {"noisy": 0.70, "model": 0.80, **speex_means([0.76, 0.75, 0.72, 0.70])}
        rows = []
        for i in range(4):
            jitter = 0.01 * i
            rows.append({"noise": "pink", "snr_db": 5.0, "scores": {
                system: {"si_sdr": sisdri[system] + jitter, "si_sdri": sisdri[system] + jitter,
                         "stoi": stoi[system] + jitter / 10} for system in sisdri}})
        summary = summarise_rate(rows)
        self.assertEqual(summary["best_speex"], {"si_sdri": SPEEX_SYSTEMS[2],
                                                 "stoi": SPEEX_SYSTEMS[0]})
        self.assertAlmostEqual(summary["model_minus_best_speex"]["si_sdri"]["mean"], 2.0)
        self.assertAlmostEqual(summary["model_minus_best_speex"]["stoi"]["mean"], 0.04)


def rate_means(model_sisdri, model_stoi, speex_sisdri, speex_stoi) -> dict:
    means = {"model": {"si_sdri": model_sisdri, "stoi": model_stoi}}
    for system, a, b in zip(SPEEX_SYSTEMS, speex_sisdri, speex_stoi):
        means[system] = {"si_sdri": a, "stoi": b}
    return means


class GateVerdictTest(unittest.TestCase):
    speex_sisdri = [1.0, 0.5, 2.0, 1.5]        # best: the third setting, 2.0 dB
    speex_stoi = [0.80, 0.82, 0.78, 0.75]      # best: the second setting, 0.82

    def test_passes_when_both_metrics_beat_the_best_at_every_rate(self):
        passed, line = gate_verdict({
            16000: rate_means(2.5, 0.83, self.speex_sisdri, self.speex_stoi),
            48000: rate_means(3.0, 0.90, self.speex_sisdri, self.speex_stoi)})
        self.assertTrue(passed, line)
        self.assertTrue(line.startswith("VERDICT PASS"), line)

    def test_compares_with_the_best_setting_not_the_default(self):
        # SI-SDRi 1.8 beats speexdsp -15 dB (0.5) but not the best setting (2.0).
        passed, line = gate_verdict({
            16000: rate_means(3.0, 0.83, self.speex_sisdri, self.speex_stoi),
            48000: rate_means(1.8, 0.90, self.speex_sisdri, self.speex_stoi)})
        self.assertFalse(passed, line)
        self.assertIn("48 kHz: SI-SDRi +1.80 dB <= +2.00 dB (speexdsp -25 dB)", line)

    def test_fails_on_one_metric_alone_and_on_a_tie(self):
        passed, line = gate_verdict({16000: rate_means(5.0, 0.81, self.speex_sisdri,
                                                       self.speex_stoi)})
        self.assertFalse(passed, line)
        passed, line = gate_verdict({16000: rate_means(5.0, 0.82, self.speex_sisdri,
                                                       self.speex_stoi)})
        self.assertFalse(passed, "equal to the best is not beating it: " + line)


class EngineAndCheckTest(unittest.TestCase):
    def test_wav_round_trip(self):
        audio = (0.5 * np.sin(np.arange(4800) * 0.01)).astype(np.float32)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "a.wav")
            evaluate.write_wav(path, audio, 48000)
            rate, back = evaluate.read_wav(path)
            self.assertEqual(rate, 48000)
            np.testing.assert_array_equal(back, audio)
            evaluate.write_wav(path, audio, 16000, pcm16=True)
            rate, back = evaluate.read_wav(path)
            self.assertEqual(rate, 16000)
            self.assertLess(np.max(np.abs(back - audio)), 1.0 / 32767)

    @unittest.skipUnless(os.path.exists(os.path.join(REPO_ROOT, evaluate.DEFAULT_MODEL)),
                         "no model file")
    def test_torch_engine_keeps_rate_and_length(self):
        enhancer = evaluate.TorchEnhancer(os.path.join(REPO_ROOT, evaluate.DEFAULT_MODEL))
        for rate, length in ((16000, 8001), (48000, 24000)):
            noisy = 0.05 * np.random.default_rng(rate).standard_normal(length).astype(np.float32)
            out = enhancer(noisy, rate, "noise")
            self.assertEqual(out.shape, (length,))
            self.assertTrue(np.all(np.isfinite(out)))

    def test_check_slice_skips_without_the_binary(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_slice.py")
        result = subprocess.run([sys.executable, script, "--statestream", "/nonexistent/ss"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=REPO_ROOT)
        self.assertEqual(result.returncode, 77, result.stderr)
        self.assertIn("SKIP", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
