#!/usr/bin/env python3
"""unittest checks of the stream forecaster's reference: the batched features equal the
sequential ones bit for bit, the rules of docs/forecast.md on hand-made ticks, quantiles that
never cross, the online adaptation on a hand-made stream, the golden fixture reproducible, a
CPU training smoke run that lowers the validation loss, and the export and backtest engine.

    /usr/bin/python3 models/train/forecast/test_forecaster.py     # about 30 s on one core
"""
import json
import math
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from forecast import make_forecast_fixture  # noqa: E402
from forecast.dataset import load_pool, make_batch, time_to_ns  # noqa: E402
from forecast.features import TickFeatures, batch_features  # noqa: E402
from forecast.forecaster import (FORECAST_SPEC, FORECAST_SPEC_V3, Adaptation,  # noqa: E402
                                 StreamingForecaster, head_numpy, pinball_loss, quantile_head,
                                 validate_spec)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SECOND = 10 ** 9


def f32(value: float) -> float:
    return float(np.float32(value))


def scale(last: float, s2: float) -> float:
    return math.sqrt(s2 + (0.001 * last) ** 2 + 1e-12)


def random_streams(seed: int, batch: int, length: int):
    """Streams with what the engine meets: leading and inner gaps, equal and irregular times,
    epoch-sized times, constant stretches, level jumps, very different scales."""
    rng = np.random.default_rng(seed)
    steps = rng.gamma(0.7, 1.0, size=(batch, length)) * SECOND
    steps[rng.random((batch, length)) < 0.03] = 0.0                # equal timestamps
    steps[rng.random((batch, length)) < 0.01] *= 1000.0            # long pauses
    times = np.cumsum(steps.astype(np.int64), axis=1)
    times[::2] += 1_700_000_000 * SECOND                           # near 2023 in epoch ns
    values = np.cumsum(rng.normal(size=(batch, length)), axis=1)
    values += 5.0 * np.sin(2 * math.pi * np.arange(length) / 7.0)
    values[:, 40:50] = values[:, 40:41]                            # constant stretch
    values[rng.random((batch, length)) < 0.1] = np.nan
    values[:, :3] = np.nan                                         # no value yet
    values[0, 60:140] = np.nan                                     # gap longer than a season
    values[1, 100] += 1e4                                          # a jump past every clamp
    values *= 10.0 ** rng.uniform(-3, 4, size=(batch, 1))
    values[batch - 1] += 1e5                                       # the relative floor matters
    return times, values


class FeaturesTest(unittest.TestCase):
    def test_sequential_equals_batched(self):
        seasons = np.array([0, 2, 4, 7, 12, 64, 0, 5])
        times, values = random_streams(7, seasons.size, 300)
        batch = batch_features(times, values, seasons, FORECAST_SPEC)
        for row, season in enumerate(seasons):
            stream = TickFeatures(FORECAST_SPEC)
            for t in range(values.shape[1]):
                x, anchors, sigma = stream.step(int(times[row, t]), values[row, t], season)
                where = f"stream {row} (season {season}) tick {t}"
                self.assertTrue(np.array_equal(x, batch.x[row, t]),
                                f"{where}: x {x} vs batched {batch.x[row, t]}")
                self.assertEqual(anchors is None, not batch.has_last[row, t], where)
                if anchors is not None:
                    self.assertTrue(np.array_equal(anchors, batch.anchors[row, t]), where)
                    self.assertEqual(sigma, batch.sigma[row, t], where)
        self.assertGreater(batch.x[:, :, 5].sum(), 1000)   # seasons were usable, not skipped

    def test_sequential_equals_batched_with_trend(self):
        seasons = np.array([0, 2, 4, 7, 12, 64, 0, 5])
        times, values = random_streams(9, seasons.size, 300)
        values[2] += np.linspace(0, 50, 300) * np.nanstd(values[2])   # a trend to follow
        batch = batch_features(times, values, seasons, FORECAST_SPEC_V3)
        self.assertEqual(batch.x.shape[2], 7)
        for row, season in enumerate(seasons):
            stream = TickFeatures(FORECAST_SPEC_V3)
            for t in range(values.shape[1]):
                x, anchors, sigma = stream.step(int(times[row, t]), values[row, t], season)
                where = f"stream {row} (season {season}) tick {t}"
                self.assertTrue(np.array_equal(x, batch.x[row, t]),
                                f"{where}: x {x} vs batched {batch.x[row, t]}")
                self.assertEqual(anchors is None, not batch.has_last[row, t], where)
                if anchors is not None:
                    self.assertTrue(np.array_equal(anchors, batch.anchors[row, t]),
                                    f"{where}: {anchors - batch.anchors[row, t]}")
                    self.assertEqual(sigma, batch.sigma[row, t], where)
        self.assertGreater(np.abs(batch.x[:, :, 6]).sum(), 100)   # the trend was not all 0

    def test_trend_rules_by_hand(self):
        spec = dict(FORECAST_SPEC_V3, trend_tau=4, trend_damping=0.5)
        keep = math.exp(-1.0 / 4)
        stream = TickFeatures(spec)
        x, anchors, _ = stream.step(0, 10.0, 0)
        self.assertEqual(x[6], 0.0)                               # no difference yet
        self.assertTrue(np.all(anchors == 10.0))
        x, anchors, sigma = stream.step(SECOND, 12.0, 0)          # the first sample: tr = 2
        self.assertEqual(x[6], np.float32(min(2.0 / sigma, 8) / 2))
        # b_h = last + tr (phi + ... + phi^h)
        self.assertEqual(anchors[0], 12.0 + 2.0 * 0.5)
        self.assertEqual(anchors[2], 12.0 + 2.0 * (0.5 + 0.25 + 0.125))
        stream.step(2 * SECOND, math.nan, 0)                      # a gap learns nothing
        x, anchors, _ = stream.step(3 * SECOND, 13.0, 0)
        tr = f32(2.0 + (1 - keep) * (1.0 - 2.0))
        self.assertEqual(anchors[0], 13.0 + tr * 0.5)
        # with a usable season P = 2: the sample is (last - ago(2)) / 2, and the trend is
        # added only beyond the ticks last season's movement covers (h - j)
        seasonal = TickFeatures(spec)
        for k, v in enumerate((1.0, 5.0, 3.0, 7.0)):              # +2 a tick each season
            x, anchors, _ = seasonal.step(k * SECOND, v, 2)
        # tr: d = 4 (tick 1), then (3 - 1)/2 = 1, (7 - 5)/2 = 1
        tr = f32(4.0)
        tr = f32(tr + (1 - keep) * (1.0 - tr))
        tr = f32(tr + (1 - keep) * (1.0 - tr))
        self.assertEqual(anchors[0], 7.0 + (3.0 - 5.0))           # h = 1, j = 1: no trend
        self.assertEqual(anchors[1], 7.0 + (7.0 - 5.0))           # h = 2, j = 2
        self.assertEqual(anchors[2], 7.0 + (3.0 - 5.0) + tr * (0.5 + 0.25 + 0.125 - 0.5))

    def test_padding_changes_nothing_before_it(self):
        times, values = random_streams(8, 2, 120)
        full = batch_features(times, values, np.array([4, 0]), FORECAST_SPEC)
        cut = values.copy()
        cut[0, 70:] = np.nan
        padded = batch_features(times, cut, np.array([4, 0]), FORECAST_SPEC)
        self.assertTrue(np.array_equal(full.x[0, :70], padded.x[0, :70]))
        self.assertTrue(np.array_equal(full.anchors[0, :70], padded.anchors[0, :70],
                                       equal_nan=True))

    def test_rules_by_hand(self):
        stream = TickFeatures(FORECAST_SPEC)
        x, anchors, sigma = stream.step(0, math.nan, 2)
        self.assertEqual(list(x), [0, 0, 0, 1, 0, 0])            # a gap before any value
        self.assertIsNone(anchors)
        x, anchors, sigma = stream.step(SECOND, 10.0, 2)
        self.assertEqual(list(x), [0, 0, 0, 0, 0, 0])            # first value, first step
        self.assertEqual(sigma, scale(10.0, 0.0))
        self.assertTrue(np.all(anchors == 10.0))                  # ago(2) is NaN: no season
        x, anchors, sigma = stream.step(2 * SECOND, 10.5, 2)
        sigma_before = scale(10.0, 0.0)
        self.assertEqual(x[0], np.float32(min(0.5 / sigma_before, 8) / 2))   # clamped at 8
        self.assertEqual(x[1], np.float32(min(0.5 / sigma_before, 30) / 10))
        self.assertEqual(x[2], 0.0)                               # the first step sets ld
        self.assertEqual(x[5], 0.0)                               # ago(2) is the gap's NaN
        self.assertEqual(sigma, scale(10.5, f32(0.25)))
        x, anchors, sigma = stream.step(2 * SECOND, 11.0, 2)      # equal timestamps
        self.assertEqual(x[2], np.float32(max(math.log(1e-9) - 0.0, -5) / 2))
        self.assertEqual(x[5], 1.0)                               # ago(2) = 10.0 now
        self.assertEqual(x[4], np.float32((10.5 - 10.0) / sigma / 10))
        # b_h = last + ago(2 - j) - ago(2), j = 1, 2, 1, 2, ...
        self.assertEqual(anchors[0], 11.0 + (10.5 - 10.0))
        self.assertEqual(anchors[1], 11.0 + (11.0 - 10.0))
        self.assertEqual(anchors[2], anchors[0])
        x, _, _ = stream.step(3 * SECOND, math.nan, 2)            # a gap after values
        self.assertEqual((x[0], x[3]), (0.0, 1.0))
        self.assertEqual(x[1], np.float32((stream.last - stream.m) / scale(stream.last,
                                                                           stream.s2) / 10))

    def test_season_is_checked(self):
        with self.assertRaises(ValueError):
            TickFeatures(FORECAST_SPEC).step(0, 1.0, 1)
        with self.assertRaises(ValueError):
            TickFeatures(FORECAST_SPEC).step(0, 1.0, FORECAST_SPEC["max_season"] + 1)


class HeadTest(unittest.TestCase):
    def test_quantiles_never_cross(self):
        generator = torch.Generator().manual_seed(1)
        outputs = torch.randn(64, 3 * FORECAST_SPEC["horizon"], generator=generator,
                              dtype=torch.float64) * 30
        z = quantile_head(outputs)
        self.assertTrue(bool(torch.all(z[..., 0] <= z[..., 1])))
        self.assertTrue(bool(torch.all(z[..., 1] <= z[..., 2])))
        rng = np.random.default_rng(2)
        adaptation = Adaptation(FORECAST_SPEC)
        for row in outputs.numpy():
            zn = head_numpy(row)
            self.assertTrue(np.all(np.isfinite(zn)))
            # torch's softplus returns x itself above 20, 2e-9 short of log(1 + e^x)
            self.assertTrue(np.allclose(zn, quantile_head(torch.from_numpy(row)).numpy(),
                                        rtol=0, atol=1e-8))
            # any state the clamps allow: mu in +-3 with s >= mu^2, g in +-2, beta in [0, 1]
            adaptation.residual_mean = rng.uniform(-3, 3, zn.shape[0])
            adaptation.residual_square = adaptation.residual_mean ** 2 + rng.uniform(0, 1, zn.shape[0])
            adaptation.log_width = rng.uniform(-2, 2, zn.shape[0])
            adaptation.since_shift, adaptation.pull_zz = 0, float(rng.uniform(0, 5))
            adaptation.pull_zu = float(rng.uniform(-5, 5))
            adapted = adaptation.forecast(zn, np.full(zn.shape[0], 7.0), 0.5, season_usable=False)
            self.assertTrue(np.all(adapted[:, 0] <= adapted[:, 1]))
            self.assertTrue(np.all(adapted[:, 1] <= adapted[:, 2]))

    def test_pinball_loss(self):
        z = torch.tensor([[[-1.0, 0.0, 1.0]]])
        target = torch.tensor([[2.0]])
        mask = torch.tensor([[True]])
        # errors 3, 2, 1 under q 0.1, 0.5, 0.9: all under-forecasts, cost q * error
        want = (0.1 * 3 + 0.5 * 2 + 0.9 * 1) / 3
        self.assertAlmostEqual(float(pinball_loss(z, target, mask)), want, places=6)
        self.assertEqual(float(pinball_loss(z, target, ~mask)), 0.0)


class ConstantModel(torch.nn.Module):
    """Outputs the same o every tick: the head and adaptation can then be computed by hand."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = torch.tensor(outputs, dtype=torch.float64)
        self.unused = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def initial_state(self, dtype):
        return None

    def step(self, x, state):
        return self.outputs.clone(), state


class AdaptationTest(unittest.TestCase):
    def setUp(self):
        self.spec = dict(FORECAST_SPEC, horizon=2)
        self.half = math.log(2.0)   # softplus(0): z10 = -ln 2, z90 = +ln 2

    def test_hand_made_stream(self):
        stream = StreamingForecaster(ConstantModel([0.0] * 6), self.spec, season=0)
        rho, eta = self.spec["adapt_offset_rate"], self.spec["adapt_width_rate"]
        q0 = stream.step(0, 10.0)
        s0 = scale(10.0, 0.0)
        self.assertTrue(np.allclose(q0, [[10 - s0 * self.half, 10, 10 + s0 * self.half]] * 2))

        q1 = stream.step(SECOND, 10.02)
        # h = 1 scores tick 0's forecast (2 scales low: no break); nothing was made 2 ticks ago
        r = (10.02 - 10.0) / f32(s0)   # the value as given, against the stored forecast
        mean, square = f32(rho * r), f32(rho * r * r)
        cut = rho * 1 * (square - mean * mean)
        off1 = mean - cut / mean
        g1 = f32(eta * (1 - 0.2))                   # 10.02 is above q90 = 10 + 0.007
        self.assertAlmostEqual(stream.adaptation.offsets()[0], off1, places=12)
        self.assertEqual(stream.adaptation.offsets()[1], 0.0)
        self.assertEqual(list(stream.adaptation.log_width), [g1, 0.0])
        self.assertEqual(stream.adaptation.pullback(), 1.0)
        s1 = scale(f32(10.02), f32(0.02 ** 2))
        self.assertAlmostEqual(s1, stream.sigma, places=12)
        last = f32(10.02)
        want_h1 = [last + s1 * (off1 - math.exp(g1) * self.half), last + s1 * off1,
                   last + s1 * (off1 + math.exp(g1) * self.half)]
        want_h2 = [last - s1 * self.half, last, last + s1 * self.half]
        self.assertTrue(np.allclose(q1, [want_h1, want_h2], rtol=0, atol=1e-12))

        q2 = stream.step(2 * SECOND, math.nan)      # a gap: no scoring, but a forecast
        self.assertAlmostEqual(stream.adaptation.offsets()[0], off1, places=12)
        self.assertTrue(np.allclose(q2, q1, rtol=0, atol=1e-12))

        stream.step(3 * SECOND, 100.0)
        # thousands of scales off the 1-step forecast: a shift and a break; nothing is scored
        self.assertAlmostEqual(stream.adaptation.offsets()[0], off1, places=12)
        self.assertEqual(list(stream.adaptation.log_width), [g1, 0.0])
        self.assertEqual(stream.adaptation.since_shift, 0)
        self.assertEqual(stream.adaptation.pullback(), 1.0)   # no evidence yet: w0 / w0
        stream.step(4 * SECOND, 100.0)
        # h = 1 scores tick 3's forecast (on its median, inside); tick 2's was forgotten
        self.assertEqual(stream.adaptation.log_width[0], f32(g1 + eta * (0.0 - 0.2)))
        self.assertEqual(stream.adaptation.log_width[1], 0.0)

    def test_pullback_after_a_shift_and_a_spike(self):
        spec = self.spec
        back = np.array([[-2.0 - self.half, -2.0, -2.0 + self.half]] * 2)   # 2 scales back down
        level = Adaptation(spec)
        level.forecast(back, np.full(2, 10.0), 1.0, season_usable=False)   # median 8
        level.observe(16.0)                                                 # 8 scales off
        self.assertEqual(level.pullback(), 1.0)
        q = level.forecast(back, np.full(2, 16.0), 1.0, season_usable=False)
        self.assertEqual(q[0, 1], 14.0)
        level.observe(16.0)               # the level stayed: u = 0 against zeta = -2
        self.assertAlmostEqual(level.pullback(), 1.0 / (1.0 + 4.0), places=12)
        q = level.forecast(back, np.full(2, 16.0), 1.0, season_usable=False)
        self.assertAlmostEqual(q[1, 1], 16.0 + 0.2 * -2.0 + level.offsets()[1], places=12)
        seasonal = level.forecast(back, np.full(2, 16.0), 1.0, season_usable=True)
        self.assertAlmostEqual(seasonal[0, 1], 16.0 - 2.0 + level.offsets()[0], places=12)
        for _ in range(10):               # W = 12 forecasts from the shift on use beta
            level.observe(16.0)
            self.assertLess(level.pullback(), 1.0)
            level.forecast(back, np.full(2, 16.0), 1.0, season_usable=False)
        level.observe(16.0)
        self.assertEqual(level.pullback(), 1.0)

        spike = Adaptation(spec)
        spike.forecast(np.array([[-self.half, 0.0, self.half]] * 2), np.full(2, 10.0), 1.0, False)
        spike.observe(20.0)               # a shift
        spike.forecast(back * 4, np.full(2, 20.0), 1.0, False)   # the model says 8 back down
        spike.observe(12.0)               # and it was: u = -8 against zeta = -8
        self.assertEqual(spike.pullback(), 1.0)

    def test_bias_noise_clamps_and_no_adapt(self):
        plain = np.array([[-self.half, 0.0, self.half]] * 2)
        biased, noisy = Adaptation(self.spec), Adaptation(self.spec)
        for k in range(600):
            biased.forecast(plain, np.full(2, 10.0), 1.0, False)
            biased.observe(11.0)          # 1 scale above the median every tick: not a break
            noisy.forecast(plain, np.full(2, 10.0), 1.0, False)
            noisy.observe(11.0 if k % 2 else 9.0)
        self.assertTrue(np.allclose(biased.offsets(), 1.0, atol=1e-4))
        self.assertTrue(np.all(noisy.offsets() == 0.0))
        far, calm = Adaptation(self.spec), Adaptation(self.spec)
        far_z = np.array([[-self.half, 0.0, self.half], [-5.0, -5.0, -5.0]])   # h = 2: 5 low
        for _ in range(1000):
            far.forecast(far_z, np.full(2, 10.0), 1.0, False)
            far.observe(10.0)
            calm.forecast(plain, np.full(2, 10.0), 1.0, False)
            calm.observe(10.0)
        self.assertAlmostEqual(far.offsets()[1], 3.0, places=4)   # residuals count 3 at most
        self.assertEqual(far.log_width[1], 2.0)
        self.assertEqual(calm.log_width[0], -2.0)
        self.assertEqual(calm.offsets()[0], 0.0)
        off = Adaptation(self.spec, enabled=False)
        for _ in range(10):
            q = off.forecast(plain, np.full(2, 10.0), 1.0, False)
            off.observe(11.0)
        self.assertTrue(np.all(off.offsets() == 0) and np.all(off.log_width == 0))
        self.assertEqual(off.pullback(), 1.0)
        self.assertTrue(np.array_equal(q, 10.0 + plain))

    def test_spec_is_range_checked(self):
        for key, bad in (("version", 1), ("adapt_offset_rate", 1.5), ("adapt_break_sigmas", 0),
                         ("adapt_shift_sigmas", -1), ("adapt_pullback_ticks", 1025),
                         ("adapt_pullback_ticks", 2.5), ("adapt_pullback_prior", 0)):
            with self.assertRaisesRegex(ValueError, key):
                validate_spec(dict(FORECAST_SPEC, **{key: bad}))
        with self.assertRaisesRegex(ValueError, "adapt_pullback_prior"):
            validate_spec({k: v for k, v in FORECAST_SPEC.items() if k != "adapt_pullback_prior"})

    def test_no_adapt_is_the_plain_head(self):
        outputs = np.linspace(-2, 2, 6)
        stream = StreamingForecaster(ConstantModel(outputs), self.spec, adapt=False)
        for k, v in enumerate([5.0, 7.0, math.nan, 1.0, 9.0]):
            q = stream.step(k * SECOND, v)
            plain = stream.anchors[:, None] + stream.sigma * head_numpy(outputs)
            self.assertTrue(np.array_equal(q, plain))


class FixtureTest(unittest.TestCase):
    def test_committed_fixture_is_what_the_reference_computes(self):
        directory = os.path.join(REPO, "data", "fixtures")
        self.assertEqual(make_forecast_fixture.check(directory), 0)
        total = sum(os.path.getsize(os.path.join(directory, name)) for name in
                    (make_forecast_fixture.MODEL_FILE, make_forecast_fixture.IO_FILE))
        self.assertLess(total, 300 * 1024)

    def test_rerun_gives_identical_bytes(self):
        contents = []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as directory:
                paths = make_forecast_fixture.write(directory)
                contents.append([open(p, "rb").read() for p in paths])
        self.assertEqual(contents[0], contents[1])


class TrainingTest(unittest.TestCase):
    def test_batches_are_seeded(self):
        pool = load_pool(synthetic_count=4)
        first = make_batch(pool, np.random.default_rng([1, 5]), 4, 64)
        again = make_batch(pool, np.random.default_rng([1, 5]), 4, 64)
        for key in first:
            self.assertTrue(np.array_equal(first[key], again[key]), key)
        self.assertTrue(np.all(np.abs(first["target"]) <= 50))
        self.assertTrue(first["mask"].any())

    def test_time_to_ns(self):
        self.assertEqual(list(time_to_ns(np.array([1949.083333, 0.5, 17000.0]))),
                         [1949083333000, 500000000, 17000 * SECOND])

    def test_smoke_run_lowers_loss_and_exports(self):
        from forecast import export_forecaster, model_engine, train
        with tempfile.TemporaryDirectory() as directory:
            train.main(["--steps", "20", "--batch", "16", "--crop", "64", "--warmup", "5",
                        "--synthetic-count", "8", "--val-crops", "32", "--val-every", "0",
                        "--log-every", "10", "--device", "cpu", "--out", directory])
            with open(os.path.join(directory, "log.json"), encoding="utf-8") as handle:
                log = json.load(handle)
            first, last = log["validation"][0], log["validation"][-1]
            self.assertEqual(last["step"], 20)
            for name in ("real", "synthetic"):
                self.assertLess(last[name]["pinball"], first[name]["pinball"], name)
            path = os.path.join(directory, "forecaster.safetensors")
            export_forecaster.main(["--checkpoint", os.path.join(directory, "checkpoint.pt"),
                                    "--out", path])
            model_engine.configure(path)
            times = np.arange(60, dtype=np.float64) / 12 + 1990
            values = 100 + 10 * np.sin(np.arange(60) * 2 * math.pi / 12)
            engine = model_engine.make_engine(times[:50], values[:50], 12, 12)
            first_forecast = engine.forecast()
            self.assertEqual(first_forecast.shape, (12, 3))
            engine.observe(times[50], values[50])
            self.assertFalse(np.array_equal(first_forecast, engine.forecast()))
            model_engine.configure()


if __name__ == "__main__":
    unittest.main()
