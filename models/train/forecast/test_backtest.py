#!/usr/bin/env python3
"""unittest checks of backtest.py: the metric arithmetic on hand-made cases, that the rolling
origin never shows an engine its target, and the two baselines behaving as they must on series
where the answer is known. numpy only (ETS/ARIMA are not fitted here, to stay fast).

    /usr/bin/python3 models/train/forecast/test_backtest.py
"""
import math
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from forecast import backtest, heldout  # noqa: E402


class ConstantEngine(backtest.Engine):
    """Forecasts fixed quantiles for every horizon."""

    def __init__(self, horizon, low, median, high):
        self.quantiles = np.tile([low, median, high], (horizon, 1)).astype(float)

    def forecast(self):
        return self.quantiles

    def observe(self, time_value, value):
        pass


class OracleEngine(backtest.Engine):
    """Knows the series in advance (a cheat the harness cannot see) and tracks what it was
    shown, so the test can check the scoring and the no-peeking order separately."""

    def __init__(self, series, fit_values, horizon):
        self.series = series
        self.seen = list(fit_values)
        self.horizon = horizon
        self.log = []   # (ticks seen when forecasting)

    def forecast(self):
        n = len(self.seen)
        self.log.append(n)
        targets = [self.series[min(n + h - 1, len(self.series) - 1)]
                   for h in range(1, self.horizon + 1)]
        return np.array([[t, t, t] for t in targets], dtype=float)

    def observe(self, time_value, value):
        self.seen.append(value)


class MetricTest(unittest.TestCase):
    def test_pinball_of_median_is_half_absolute_error(self):
        for actual, predicted in ((3.0, 1.0), (-2.0, 5.0), (4.0, 4.0)):
            self.assertAlmostEqual(backtest.pinball(actual, predicted, 0.5),
                                   0.5 * abs(actual - predicted))

    def test_pinball_asymmetry(self):
        # under-forecast by 1 costs q, over-forecast by 1 costs 1 - q
        self.assertAlmostEqual(backtest.pinball(1.0, 0.0, 0.9), 0.9)
        self.assertAlmostEqual(backtest.pinball(0.0, 1.0, 0.9), 0.1)

    def test_accumulator_by_hand(self):
        acc = backtest.Accumulator(scale=2.0)
        acc.add(10.0, np.array([8.0, 9.0, 12.0]))    # inside, |e| = 1
        acc.add(10.0, np.array([11.0, 12.0, 13.0]))  # outside, |e| = 2
        m = acc.metrics()
        self.assertAlmostEqual(m["mase"], (1 + 2) / 2 / 2.0)
        self.assertAlmostEqual(m["smape"], (200 * 1 / 19 + 200 * 2 / 22) / 2)
        self.assertAlmostEqual(m["coverage80"], 0.5)
        first = (0.1 * 2 + 0.5 * 1 + 0.1 * 2) / 3      # errors +2, +1, -2
        second = (0.9 * 1 + 0.5 * 2 + 0.1 * 3) / 3     # errors -1, -2, -3
        self.assertAlmostEqual(m["pinball"], (first + second) / 2 / 2.0)

    def test_scale_is_in_sample_seasonal_naive_mae(self):
        values = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 8.0])
        self.assertAlmostEqual(backtest.seasonal_naive_scale(values, 3), (2 + 3 + 4) / 3)
        self.assertAlmostEqual(backtest.seasonal_naive_scale(values, 1), (1 + 2 + 1 + 2 + 3) / 5)
        # a constant season falls back to lag 1; a constant series to 1
        self.assertAlmostEqual(backtest.seasonal_naive_scale(np.array([1.0, 2.0] * 4), 2), 1.0)
        self.assertEqual(backtest.seasonal_naive_scale(np.ones(5), 1), 1.0)

    def test_perfect_forecast_has_zero_mase_and_full_coverage(self):
        values = np.sin(np.arange(100) / 3.0) * 5 + 20
        values[90] = math.nan   # a missing target is skipped, not scored
        times = np.arange(values.size, dtype=float)
        acc = backtest.backtest_engine(lambda t, v, m, h: OracleEngine(values, v, h), times,
                                       values, 1, 4)
        m = acc.metrics()
        self.assertEqual(m["mase"], 0.0)
        self.assertEqual(m["pinball"], 0.0)
        self.assertEqual(m["coverage80"], 1.0)
        expected = sum(1 for _, targets in heldout.rolling_origins(values.size, 4)
                       for t in targets if t != 90)
        self.assertEqual(m["scored"], expected)

    def test_band_always_containing_the_value_covers_one(self):
        values = np.random.default_rng(0).normal(size=60)
        times = np.arange(values.size, dtype=float)
        acc = backtest.backtest_engine(lambda t, v, m, h: ConstantEngine(h, -100, 0, 100),
                                       times, values, 1, 3)
        self.assertEqual(acc.metrics()["coverage80"], 1.0)


class RollingOriginTest(unittest.TestCase):
    def test_engine_never_sees_its_target(self):
        values = np.arange(50, dtype=float)
        times = values.copy()
        made = []

        def factory(t, v, m, h):
            made.append(OracleEngine(values, v, h))
            return made[0]

        backtest.backtest_engine(factory, times, values, 1, 5)
        fit = heldout.fit_length(values.size)
        # forecast k is made after exactly fit + k ticks, i.e. at origin fit - 1 + k, whose
        # targets all lie past it
        self.assertEqual(made[0].log, list(range(fit, values.size)))

    def test_fit_part_is_read_only_and_ends_at_the_fit_length(self):
        values = np.arange(40, dtype=float)

        class Peeker(backtest.Engine):
            def __init__(self, fit_values):
                fit_values[len(fit_values) - 1]          # the last fit point is fine
                fit_values[len(fit_values)]              # one past it is not: IndexError

        with self.assertRaises(IndexError):
            backtest.backtest_engine(lambda t, v, m, h: Peeker(v), values, values, 1, 2)

        class Writer(backtest.Engine):
            def __init__(self, fit_values):
                fit_values[0] = 1.0                      # ValueError: read-only

        with self.assertRaises(ValueError):
            backtest.backtest_engine(lambda t, v, m, h: Writer(v), values, values, 1, 2)

    def test_whole_series_engine_is_replayed_in_rolling_origin_order(self):
        # a WholeSeriesFactory gets every tick, read-only, and the fit length; the harness still
        # asks for each forecast after exactly the ticks a live stream would have seen
        values = np.arange(40, dtype=float)
        built = []

        class Replay(backtest.Engine):
            def __init__(self, all_values, fit, horizon):
                self.all_values, self.seen, self.horizon, self.log = all_values, fit, horizon, []

            def forecast(self):
                self.log.append(self.seen)
                return np.zeros((self.horizon, 3))

            def observe(self, time_value, value):
                self.seen += 1

        def build(t, v, fit, m, h):
            built.append(Replay(v, fit, h))
            return built[0]

        backtest.backtest_engine(backtest.WholeSeriesFactory(build), values, values, 1, 3)
        self.assertEqual(built[0].all_values.size, values.size)
        self.assertEqual(built[0].log, list(range(heldout.fit_length(values.size), values.size)))
        with self.assertRaises(ValueError):
            built[0].all_values[0] = 1.0

    def test_wrong_quantile_shape_is_refused(self):
        values = np.arange(30, dtype=float)
        with self.assertRaises(ValueError):
            backtest.backtest_engine(lambda t, v, m, h: ConstantEngine(h + 1, 0, 0, 0), values,
                                     values, 1, 2)


class BaselineTest(unittest.TestCase):
    def test_seasonal_naive_is_exact_on_a_periodic_series(self):
        pattern = np.array([3.0, 7.0, 1.0, 9.0, 4.0, 6.0, 2.0])
        values = np.tile(pattern, 30)
        times = np.arange(values.size, dtype=float)
        m = backtest.backtest_engine(backtest.make_snaive, times, values, 7, 10).metrics()
        self.assertEqual(m["mase"], 0.0)
        self.assertEqual(m["coverage80"], 1.0)
        naive = backtest.backtest_engine(backtest.make_naive, times, values, 7, 10).metrics()
        self.assertGreater(naive["mase"], 0.5)

    def test_naive_on_a_random_walk(self):
        # the last value is the best point forecast: naive's 1-step MASE is about 1 (its own
        # in-sample scale), its h-step error grows like sqrt(h), its empirical band covers
        # about 80 %, and forecasting the fit part's mean instead is much worse
        rng = np.random.default_rng(7)
        values = np.cumsum(rng.normal(size=5000)) + 100
        times = np.arange(values.size, dtype=float)
        one = backtest.backtest_engine(backtest.make_naive, times, values, 1, 1).metrics()
        self.assertAlmostEqual(one["mase"], 1.0,
                               delta=0.15)
        self.assertAlmostEqual(one["coverage80"], 0.8, delta=0.06)
        four = backtest.backtest_engine(backtest.make_naive, times, values, 1, 4).metrics()
        # mean over h = 1..4 of sqrt(h), relative to h = 1
        self.assertAlmostEqual(four["mase"] / one["mase"],
                               np.mean(np.sqrt(np.arange(1, 5))), delta=0.2)
        mean = float(np.mean(values[:heldout.fit_length(values.size)]))
        flat = backtest.backtest_engine(lambda t, v, m, h: ConstantEngine(h, mean, mean, mean),
                                        times, values, 1, 1).metrics()
        self.assertGreater(flat["mase"], 3 * one["mase"])


if __name__ == "__main__":
    unittest.main()
