#!/usr/bin/env python3
"""Tests of the synthetic series generator (synthetic.py).

    /usr/bin/python3 models/train/forecast/test_synthetic.py

numpy only; about 2 s on one core.
"""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from forecast.synthetic import (KINDS, generate, generate_many,  # noqa: E402
                                squared_return_autocorrelation)

# Averaging over seeds: one 2000-tick path's autocorrelation of squared returns scatters by about
# +-0.05 around its true value (0.1 to 0.3 for the GARCH settings drawn), so single paths
# would make a flaky test and a mean over eight does not.
CLUSTERING_SEEDS = range(8)
CLUSTERING_LENGTH = 2000


class Determinism(unittest.TestCase):
    def test_same_seed_same_series(self):
        for kind in KINDS:
            for irregular, gaps in ((False, False), (True, True)):
                first = generate(kind, 7, 500, irregular=irregular, gaps=gaps)
                second = generate(kind, 7, 500, irregular=irregular, gaps=gaps)
                np.testing.assert_array_equal(first.timestamps, second.timestamps)
                np.testing.assert_array_equal(first.values, second.values)
                self.assertEqual(first.params, second.params)

    def test_different_seed_different_series(self):
        for kind in KINDS:
            self.assertFalse(np.array_equal(generate(kind, 1, 300).values,
                                            generate(kind, 2, 300).values), kind)

    def test_many_is_prefix_stable(self):
        short = generate_many(seed=5, count=3, length=200)
        long = generate_many(seed=5, count=6, length=200)
        for a, b in zip(short, long):
            self.assertEqual(a.kind, b.kind)
            np.testing.assert_array_equal(a.values, b.values)
        self.assertEqual({s.kind for s in long}, set(KINDS))


class Shape(unittest.TestCase):
    def test_lengths_labels_and_finite_values(self):
        for kind in KINDS:
            for irregular in (False, True):
                series = generate(kind, 3, 777, irregular=irregular, gaps=True)
                self.assertEqual(series.kind, kind)
                self.assertEqual(series.timestamps.shape, (777,))
                self.assertEqual(series.values.shape, (777,))
                self.assertTrue(np.all(np.isfinite(series.values)))
                self.assertTrue(np.all(np.diff(series.timestamps) > 0.0),
                                f"{kind} irregular={irregular}: timestamps not increasing")

    def test_prices_positive(self):
        for seed in range(5):
            self.assertTrue(np.all(generate("price", seed, 1000).values > 0.0))

    def test_rejects_unknown_kind_and_short_length(self):
        with self.assertRaises(ValueError):
            generate("sine", 1)
        with self.assertRaises(ValueError):
            generate("price", 1, length=3)


class TimestampsAndGaps(unittest.TestCase):
    def test_regular_without_gaps_is_unit_grid(self):
        for kind in KINDS:
            steps = np.diff(generate(kind, 4, 400).timestamps)
            np.testing.assert_array_equal(steps, np.ones(399))

    def test_gaps_present_when_asked(self):
        for kind in KINDS:
            for irregular in (False, True):
                for seed in range(5):
                    steps = np.diff(generate(kind, seed, 600, irregular=irregular,
                                             gaps=True).timestamps)
                    # A gap removes >= 5 ticks, so some step is far above the typical one.
                    self.assertGreater(steps.max(), 5.0 * np.median(steps),
                                       f"{kind} seed {seed} irregular={irregular}: no gap")

    def test_irregular_spacing_varies_with_mean_near_one(self):
        steps = np.diff(generate("seasonal_trend", 6, 3000, irregular=True).timestamps)
        self.assertGreater(steps.std(), 0.1)
        self.assertAlmostEqual(float(steps.mean()), 1.0, delta=0.1)


class Behaviour(unittest.TestCase):
    def test_volatility_clustering_measurable(self):
        clustered = [squared_return_autocorrelation(generate("price", s, CLUSTERING_LENGTH).values)
                     for s in CLUSTERING_SEEDS]
        constant = [squared_return_autocorrelation(
            generate("price", s, CLUSTERING_LENGTH, volatility_clustering=False).values)
            for s in CLUSTERING_SEEDS]
        print(f"\n  lag-1 autocorrelation of squared returns, mean of {len(clustered)} paths: "
              f"GARCH {np.mean(clustered):.3f}, constant volatility {np.mean(constant):.3f}")
        self.assertGreater(float(np.mean(clustered)), 0.05)
        self.assertGreater(float(np.mean(clustered)), float(np.mean(constant)) + 0.05)
        self.assertLess(abs(float(np.mean(constant))), 0.05)

    def test_seasonality_visible_in_regular_series(self):
        # Classical decomposition: remove a centred moving average one period long (the trend),
        # then the mean profile by phase should explain a clear share of what is left. Pure
        # noise would give about period / length (< 0.12 here); the generator gives 0.1 to 0.6.
        for seed in range(12):
            series = generate("seasonal_trend", seed, 3000)
            period = int(series.params["periods"][0])
            x = np.log(series.values) if series.params["multiplicative"] else series.values
            trend = np.convolve(x, np.ones(period) / period, mode="valid")
            offset = period // 2
            detrended = x[offset:offset + trend.size] - trend
            phase = (np.arange(detrended.size) + offset) % period
            profile = np.bincount(phase, weights=detrended) / np.bincount(phase)
            share = float(np.var(profile[phase]) / np.var(detrended))
            noise_share = period / detrended.size
            self.assertGreater(share, noise_share + 0.05, f"seed {seed} period {period}")

    def test_regime_switches_and_jumps_occur(self):
        series = generate_many(seed=2, count=20, length=2000, kinds=("seasonal_trend",))
        self.assertGreater(sum(s.params["regime_switches"] for s in series), 20)
        prices = generate_many(seed=2, count=20, length=3000, kinds=("price",))
        self.assertGreater(sum(s.params["jumps"] for s in prices), 20)


if __name__ == "__main__":
    unittest.main(verbosity=2)
