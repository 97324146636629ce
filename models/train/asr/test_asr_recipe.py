#!/usr/bin/env python3
"""Tests of the recogniser's training recipe that need no data and no GPU (about 20 s):

    /usr/bin/python3 models/train/asr/test_asr_recipe.py

MDCT pack (exact transform, bounded coding error, stream decoder = reference decoder, int8
scale-code wrap), the export (normalisation folded into input_proj, labels in the metadata,
the file loads back with the checkpoint's logits), the loss and greedy decoding, the batch
maker's contract (shapes, frame counts, label layout, no held-out noise type), SpecAugment's
limits, the refusal of held-out shards, and VTLP (identity at alpha 1, the direction of the
warp, seeded batches, off switch).
"""
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import data, mdct_pack  # noqa: E402
from asr import model as asr_model  # noqa: E402
from asr import text as asr_text  # noqa: E402

TINY = {"input_dim": 80, "d_model": 32, "output_dim": 29, "norm_eps": 1e-5,
        "layers": [{"type": "mamba2", "d_state": 8, "head_dim": 16, "expand": 2, "d_conv": 4,
                    "n_groups": 1} for _ in range(2)]}


def tone_utterance(seconds: float, rate: int, seed: int, text: str) -> dict:
    """A speech-like test signal: harmonics of a gliding pitch under an envelope, with silence
    at both ends (as the corpus trims it), and the corpus's metadata keys."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110 + 40 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    audio = sum(np.sin(k * phase) / k for k in range(1, 12)) * np.sin(np.pi * t / seconds) ** 2
    audio[:int(0.1 * rate)] = 0.0
    audio[-int(0.1 * rate):] = 0.0
    return {"audio": audio.astype(np.float32), "sample_rate": rate, "text": text,
            "voice": "espeak-ng:en-us:s=150:p=50", "split": "train",
            "sentence_id": str(seed)}


class MdctPackTest(unittest.TestCase):
    def test_transform_is_exact(self):
        audio = np.random.default_rng(1).standard_normal(4001)   # not a multiple of the hop
        back = mdct_pack.imdct(mdct_pack.mdct(audio), audio.size)
        self.assertLess(np.max(np.abs(back - audio)), 1e-10)

    def test_round_trip_and_stream_decoder(self):
        utterances = [tone_utterance(1.3, 22050, 1, "one"), tone_utterance(0.7, 8000, 2, "two"),
                      tone_utterance(2.1, 16000, 3, "three")]
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "train_x.mdct")
            header = mdct_pack.pack_utterances(path, utterances, "train_x.ssc")
            back = mdct_pack.unpack_file(path)
            _, codes, quantised = mdct_pack.read_pack(path)
        stream = mdct_pack.decode_stream(codes, quantised).numpy()
        self.assertLess(int(np.max(np.abs(quantised))), 12)      # the bound encode() states
        for source, entry, decoded in zip(utterances, header["utterances"], back):
            self.assertEqual(decoded["text"], source["text"])
            reference = mdct_pack.resample_to_16k(source["audio"], source["sample_rate"])
            reference = reference / np.max(np.abs(reference))
            self.assertEqual(decoded["audio"].shape, reference.shape)
            snr = 10 * np.log10(np.sum(reference ** 2) /
                                np.sum((decoded["audio"] - reference) ** 2))
            self.assertGreater(snr, 12.0, f"{source['text']}: coding SNR {snr:.1f} dB")
            start = (entry["frame_offset"] + 1) * mdct_pack.HOP
            from_stream = stream[start:start + entry["length"]]
            self.assertLess(np.max(np.abs(from_stream - decoded["audio"])), 1e-5)

    def test_scale_codes_survive_int8_wrap(self):
        # Silent band (-127) next to a loud one: a difference of about 150 wraps in int8.
        audio = np.zeros(16000)
        audio[8000:] = np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)
        codes, quantised = mdct_pack.encode(audio)
        self.assertGreater(int(np.max(np.abs(np.diff(codes.astype(int), axis=0)))), 127)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "train_y.mdct")
            mdct_pack.pack_utterances(path, [{"audio": audio, "sample_rate": 16000,
                                              "text": "a"}], "train_y.ssc")
            _, back, _ = mdct_pack.read_pack(path)
        np.testing.assert_array_equal(back, codes)


class ModelTest(unittest.TestCase):
    def test_labels_match_the_vocabulary(self):
        self.assertEqual(len(asr_model.LABELS), 29)
        self.assertEqual(asr_model.LABELS[0], "")
        self.assertEqual(asr_model.LABELS[1:3], [" ", "'"])
        self.assertEqual("".join(asr_model.LABELS[3:]), "abcdefghijklmnopqrstuvwxyz")
        self.assertEqual(asr_model.ARCHITECTURE["output_dim"], len(asr_model.LABELS))
        self.assertLessEqual(asr_model.ARCHITECTURE["d_model"], 192)
        self.assertLessEqual(len(asr_model.ARCHITECTURE["layers"]), 6)

    def test_greedy_decoding(self):
        # Frames: a a blank a b b space c -> "aab c" needs the blank to split the a's.
        frames = [3, 3, 0, 3, 4, 4, 1, 5]
        logits = torch.full((len(frames), 29), -5.0)
        logits[torch.arange(len(frames)), torch.tensor(frames)] = 5.0
        self.assertEqual(asr_text.decode(asr_model.greedy_labels(logits)), "aab c")
        self.assertEqual(asr_model.greedy_texts(logits[None], [3]), ["a"])

    def test_ctc_loss_prefers_the_right_labels(self):
        torch.manual_seed(0)
        labels = torch.tensor(asr_text.encode("ab"))
        good = torch.full((1, 6, 29), -5.0)
        for t, k in enumerate([3, 0, 4, 0, 0, 0]):
            good[0, t, k] = 5.0
        bad = torch.randn(1, 6, 29)
        counts = torch.tensor([6]), torch.tensor([2])
        good_loss = asr_model.ctc_loss(good, counts[0], labels, counts[1])
        bad_loss = asr_model.ctc_loss(bad, counts[0], labels, counts[1])
        self.assertLess(float(good_loss), 0.1)
        self.assertGreater(float(bad_loss), float(good_loss) + 1.0)

    def test_export_folds_the_normalisation(self):
        torch.manual_seed(2)
        model = asr_model.Transcriber(TINY, torch.randn(80) - 5.0, torch.rand(80) * 3 + 0.5)
        raw = torch.randn(2, 37, 80) * 3 - 5
        with torch.no_grad():
            reference = model(raw)
            folded = model.exported()(raw)[0]
        self.assertLess(float((reference - folded).abs().max()), 1e-4)

    def test_model_file_has_labels_and_the_logits(self):
        from export import export_model
        from ssm_model import load_model
        torch.manual_seed(3)
        model = asr_model.Transcriber(TINY, torch.randn(80) - 5.0, torch.rand(80) + 2.0)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "t.safetensors")
            export_model(model.exported(), path, task="transcribe", frontend=asr_model.FRONTEND,
                         recipe={"name": "test"}, extra_metadata=asr_model.labels_metadata())
            loaded, metadata = load_model(path, dtype=torch.float32)
            with self.assertRaisesRegex(ValueError, "replace the standard entry"):
                export_model(model.exported(), path, task="transcribe", frontend={},
                             recipe={}, extra_metadata={"task": "x"})
        self.assertEqual(json.loads(metadata["labels"]), asr_model.LABELS)
        self.assertEqual(json.loads(metadata["frontend"]), asr_model.FRONTEND)
        raw = torch.randn(1, 50, 80) * 3 - 5
        with torch.no_grad():
            self.assertLess(float((loaded(raw)[0] - model(raw)).abs().max()), 1e-4)


class DataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        texts = ["the cat", "a dog ran", "it's late", "we met", "blue sky", "go home now"]
        utterances = [tone_utterance(0.8 + 0.3 * i, (16000, 22050, 8000)[i % 3], i, t)
                      for i, t in enumerate(texts)]
        cls.pack = os.path.join(cls.directory.name, "train_t.mdct")
        mdct_pack.pack_utterances(cls.pack, utterances, "train_t.ssc")
        cls.store = data.SpeechStore([cls.pack], "cpu")

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def test_refuses_held_out_sources(self):
        for name in ("dev_000.mdct", "eval_000.mdct"):
            held = os.path.join(self.directory.name, name)
            with open(self.pack, "rb") as source, open(held, "wb") as target:
                target.write(source.read())
            with self.assertRaisesRegex(ValueError, "held-out"):
                data.SpeechStore([held], "cpu")

    def test_batch_contract(self):
        maker = data.BatchMaker(self.store, range(len(self.store)), seed=5, batch=4)
        for augment in (True, False):
            b = maker.make([0, 3, 5], augment)
            count, frames, bands = b["features"].shape
            self.assertEqual((count, bands), (3, 80))
            self.assertTrue(bool((b["frame_counts"] <= frames).all()))
            self.assertEqual(int(b["label_counts"].sum()), b["labels"].numel())
            self.assertEqual(b["texts"], [self.store.texts[i] for i in (0, 3, 5)])
            self.assertTrue(bool(torch.isfinite(b["features"]).all()))
            self.assertGreater(int(b["labels"].min()), 0)            # never the blank
        clean = maker.make([1], augment=False)
        # Un-augmented rows keep the utterance's length: frames = samples // hop.
        self.assertEqual(int(clean["frame_counts"][0]), self.store.lengths[1] // data.HOP)

    def test_noise_types_are_training_types(self):
        from enhance.noise import HELDOUT_NOISE_TYPES, TRAIN_NOISE_TYPES
        self.assertFalse(set(TRAIN_NOISE_TYPES) & set(HELDOUT_NOISE_TYPES))
        for kind in HELDOUT_NOISE_TYPES:
            with self.assertRaises(ValueError):
                data.batch_noise(kind, 1, 1600, 16000, torch.Generator().manual_seed(0), "cpu")

    def test_spec_augment_limits(self):
        x = torch.ones(3, 400, 80)
        counts = torch.tensor([400, 200, 90])
        masked = data.spec_augment(x, counts, torch.Generator().manual_seed(1))
        for row, n in enumerate(counts.tolist()):
            time_kept = masked[row, :n].abs().sum(-1) > 0
            # Time masks cover at most TIME_MASK_FRACTION of a row's frames.
            self.assertGreaterEqual(float(time_kept.float().mean()),
                                    1 - data.TIME_MASK_FRACTION - 1e-9)
            bands_masked = int((masked[row].abs().sum(0) == 0).sum())
            self.assertLessEqual(bands_masked, data.FREQ_MASKS * data.FREQ_MASK_BANDS)

    def test_batch_contract_without_vtlp(self):
        # Off draws nothing: the same rows, lengths and frame counts as with it on.
        on = data.BatchMaker(self.store, range(len(self.store)), seed=5, batch=4, vtlp=1.0)
        off = data.BatchMaker(self.store, range(len(self.store)), seed=5, batch=4, vtlp=0.0)
        self.assertIsNone(off.vtlp_bank)
        a, b = on.make([0, 3, 5]), off.make([0, 3, 5])
        self.assertEqual(a["features"].shape, b["features"].shape)
        self.assertTrue(torch.equal(a["frame_counts"], b["frame_counts"]))
        self.assertTrue(torch.equal(a["labels"], b["labels"]))
        with self.assertRaisesRegex(ValueError, "probability"):
            data.BatchMaker(self.store, [0], seed=5, batch=4, vtlp=1.5)

    def test_vtlp_is_seeded(self):
        def batches(seed):
            maker = data.BatchMaker(self.store, range(len(self.store)), seed=seed, batch=4,
                                    vtlp=1.0)
            return [maker.batch(4)["features"] for _ in range(3)]
        first, again, other = batches(11), batches(11), batches(12)
        for x, y in zip(first, again):
            self.assertTrue(torch.equal(x, y))
        self.assertFalse(all(x.shape == y.shape and torch.equal(x, y)
                             for x, y in zip(first, other)))

    def test_resample_keeps_a_tone(self):
        rate, seconds = 16000, 1.0
        t = torch.arange(int(rate * seconds)) / rate
        tone = torch.sin(2 * np.pi * 500 * t)
        slower = data.resample(tone, int(rate * seconds / 0.8))   # factor 0.8: 400 Hz
        spectrum = torch.fft.rfft(slower).abs()
        peak_hz = float(torch.argmax(spectrum)) * rate / slower.shape[0]
        self.assertAlmostEqual(peak_hz, 400.0, delta=2.0)


class VtlpTest(unittest.TestCase):
    @staticmethod
    def features_at(audio: torch.Tensor, alphas) -> torch.Tensor:
        bank = torch.stack([data.vtlp_filterbank(a) for a in alphas]).float()
        return data.warped_features(audio, bank, torch.arange(len(alphas)))

    def test_alpha_one_is_the_engine_front_end(self):
        from features import log_mel
        audio = torch.randn(3, 16000, generator=torch.Generator().manual_seed(4)) * 0.1
        reference = log_mel(audio, 16000, 400, 160, 80)
        exact = data.mel_filterbank(16000, 512, 80, dtype=torch.float64)
        self.assertTrue(torch.equal(data.vtlp_filterbank(1.0), exact))
        # Through the per-row (batched) matmul: equal up to float32 summation order.
        warped = self.features_at(audio, [1.0, 1.0, 1.0])
        self.assertLessEqual(float((warped - reference).abs().max()), 1e-6)
        # Rows left unwarped take the engine's own path: bit for bit.
        bank = torch.stack([data.vtlp_filterbank(1.1)]).float()
        mixed = data.warped_features(audio, bank, torch.tensor([-1, 0, -1]))
        self.assertTrue(torch.equal(mixed[0], reference[0]))
        self.assertTrue(torch.equal(mixed[2], reference[2]))
        self.assertFalse(torch.equal(mixed[1], reference[1]))

    def test_warp_keeps_nyquist_and_is_monotonic(self):
        hz = torch.linspace(0.0, 8000.0, 801, dtype=torch.float64)
        for alpha in (0.88, 0.95, 1.05, 1.12):
            warped = data.vtlp_warp(hz, alpha)
            self.assertAlmostEqual(float(warped[0]), 0.0)
            self.assertAlmostEqual(float(warped[-1]), 8000.0, places=6)
            self.assertTrue(bool((warped.diff() > 0).all()))
            self.assertAlmostEqual(float(data.vtlp_warp(hz[100:101], alpha)), 1000.0 * alpha)

    def test_tone_moves_with_alpha(self):
        # alpha > 1 (a shorter vocal tract) puts a tone's energy in a higher mel band.
        t = torch.arange(16000) / 16000.0
        tone = 0.3 * torch.sin(2 * np.pi * 1500.0 * t)
        peak = self.features_at(tone[None].expand(3, -1), [0.9, 1.0, 1.1])[:, 10:-10] \
            .mean(1).argmax(-1).tolist()
        self.assertLess(peak[0], peak[1], f"alpha 0.9 peak band {peak[0]}, alpha 1 {peak[1]}")
        self.assertGreater(peak[2], peak[1], f"alpha 1.1 peak band {peak[2]}, alpha 1 {peak[1]}")


if __name__ == "__main__":
    unittest.main()
