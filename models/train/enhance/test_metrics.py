#!/usr/bin/env python3
"""Property checks for the enhancer's evaluation pieces: metrics.py, the speexdsp wrapper and
the noise generators.

There is no reference STOI implementation to compare against here, so STOI is checked through
properties the paper's definition implies: a signal against itself scores exactly 1, the score
is blind to the processed signal's level, and it falls as white noise gets louder. The test
speech is synthesised (a harmonic, formant-shaped "vowel" signal with syllable-rate envelopes
and pauses), so no recordings are needed.

    /usr/bin/python3 models/train/enhance/test_metrics.py

Prints each check and exits non-zero if any fails.
"""
import functools
import math
import os
import sys
import time

import numpy as np
import scipy.signal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from enhance.metrics import bootstrap_mean_ci, si_sdr, si_sdr_improvement, stoi  # noqa: E402

_failures = []


def check(name: str, passed: bool, detail: str = "") -> None:
    print(f"[{'PASS' if passed else 'FAIL'}] {name}" + (f"  ({detail})" if detail else ""))
    if not passed:
        _failures.append(name)


# --- Test signals -----------------------------------------------------------------------------

# (F1, F2, F3) in Hz of a few vowels, roughly an adult male's.
_VOWEL_FORMANTS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240),
                   (530, 1840, 2480), (570, 840, 2410)]
_FORMANT_BANDWIDTHS = (90.0, 110.0, 170.0)


@functools.lru_cache(maxsize=None)
def _speech_like_cached(sample_rate: int, seconds: float, seed: int) -> np.ndarray:
    speech = _synthesise_speech_like(sample_rate, seconds, seed)
    speech.flags.writeable = False
    return speech


def speech_like(sample_rate: int, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A fresh copy of the speech-like test signal (synthesised once per set of arguments)."""
    return _speech_like_cached(sample_rate, seconds, seed).copy()


def _synthesise_speech_like(sample_rate: int, seconds: float, seed: int) -> np.ndarray:
    """A deterministic stand-in for speech: voiced syllables of 150-300 ms with a raised-cosine
    envelope (about 4 per second), vowel formants changing per syllable, a wandering pitch
    near 120 Hz, a little breath noise, and pauses between groups of syllables. Peak about 0.3.
    """
    rng = np.random.default_rng(seed)
    count = int(seconds * sample_rate)
    envelope = np.zeros(count)
    formants = np.zeros((count, 3))
    position = int(0.15 * sample_rate)  # starts with a pause
    syllables_left = rng.integers(2, 5)
    formants[:] = _VOWEL_FORMANTS[0]
    while position < count:
        length = int(rng.uniform(0.15, 0.3) * sample_rate)
        end = min(count, position + length)
        phase = np.linspace(0.0, 1.0, end - position, endpoint=False)
        envelope[position:end] = rng.uniform(0.5, 1.0) * np.sin(np.pi * phase) ** 2
        formants[position:] = _VOWEL_FORMANTS[rng.integers(len(_VOWEL_FORMANTS))]
        position = end
        syllables_left -= 1
        if syllables_left == 0:  # a pause between phrases
            position += int(rng.uniform(0.15, 0.4) * sample_rate)
            syllables_left = rng.integers(2, 5)
    # Glide between vowels over about 40 ms instead of jumping.
    smoother = np.hanning(max(3, int(0.04 * sample_rate)))
    smoother /= smoother.sum()
    formants = np.stack([np.convolve(formants[:, i], smoother, mode="same")
                         for i in range(3)], axis=1)

    t = np.arange(count) / sample_rate
    pitch_hz = 120.0 * (1.0 + 0.12 * np.sin(2 * np.pi * 0.7 * t) + 0.04 * np.sin(2 * np.pi * 3.1 * t))
    phase = 2 * np.pi * np.cumsum(pitch_hz) / sample_rate
    highest_hz = min(6000.0, 0.45 * sample_rate)
    voiced = np.zeros(count)
    for harmonic in range(1, int(highest_hz // 100.0) + 1):
        harmonic_hz = harmonic * pitch_hz
        gain = sum(1.0 / (1.0 + ((harmonic_hz - formants[:, i]) / _FORMANT_BANDWIDTHS[i]) ** 2)
                   for i in range(3))
        gain *= np.where(harmonic_hz < highest_hz, 1.0, 0.0) / harmonic ** 0.5
        voiced += gain * np.sin(harmonic * phase)
    breath = scipy.signal.sosfilt(
        scipy.signal.butter(2, [1500, min(7000, 0.45 * sample_rate)], "bandpass",
                            fs=sample_rate, output="sos"),
        rng.standard_normal(count))
    speech = envelope * (voiced / np.abs(voiced).max() + 0.05 * breath)
    return 0.3 * speech / np.abs(speech).max()


def white_noise_at_snr(speech: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(speech.shape[0])
    noise *= math.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2)) * 10.0 ** (-snr_db / 20.0)
    return noise


# --- STOI -------------------------------------------------------------------------------------


def test_stoi() -> None:
    for sample_rate in (16000, 48000):
        clean = speech_like(sample_rate)
        identity = stoi(clean, clean, sample_rate)
        check(f"STOI clean vs itself == 1 at {sample_rate} Hz", abs(identity - 1.0) < 1e-6,
              f"{identity:.9f}")

        noisy = clean + white_noise_at_snr(clean, 5.0)
        reference = stoi(clean, noisy, sample_rate)
        for factor in (0.1, 10.0):
            scaled = stoi(clean, factor * noisy, sample_rate)
            check(f"STOI unchanged when processed is scaled by {factor} at {sample_rate} Hz",
                  abs(scaled - reference) < 1e-6, f"{reference:.9f} vs {scaled:.9f}")

        snrs = (20.0, 10.0, 5.0, 0.0, -5.0)
        scores = [stoi(clean, clean + white_noise_at_snr(clean, snr), sample_rate)
                  for snr in snrs]
        listing = ", ".join(f"{snr:g} dB: {score:.4f}" for snr, score in zip(snrs, scores))
        check(f"STOI falls monotonically with white-noise SNR at {sample_rate} Hz",
              all(a > b for a, b in zip(scores, scores[1:])), listing)
        check(f"STOI stays in a plausible range at {sample_rate} Hz",
              0.85 < scores[0] < 1.0 and 0.2 < scores[-1] < 0.85, listing)

    # The same mixture scored at 48 kHz and after resampling to 16 kHz should agree: both are
    # analysed at 10 kHz, and nothing above 5 kHz counts.
    clean48 = speech_like(48000)
    noisy48 = clean48 + white_noise_at_snr(clean48, 0.0)
    high_rate = stoi(clean48, noisy48, 48000)
    low_rate = stoi(scipy.signal.resample_poly(clean48, 1, 3),
                    scipy.signal.resample_poly(noisy48, 1, 3), 16000)
    check("STOI of one mixture at 48 kHz and resampled to 16 kHz agree",
          abs(low_rate - high_rate) < 0.01, f"{high_rate:.4f} vs {low_rate:.4f}")

    clean = speech_like(16000)
    unrelated = speech_like(16000, seed=7)
    score = stoi(clean, unrelated, 16000)
    check("STOI of unrelated speech-like signals is low", score < 0.5, f"{score:.4f}")

    started = time.perf_counter()
    repeats = 5
    for _ in range(repeats):
        stoi(clean, clean + white_noise_at_snr(clean, 0.0), 16000)
    per_call = (time.perf_counter() - started) / repeats
    print(f"       STOI of 3 s at 16 kHz takes {1000 * per_call:.1f} ms")
    clean48 = speech_like(48000)
    noisy48 = clean48 + white_noise_at_snr(clean48, 0.0)
    started = time.perf_counter()
    for _ in range(repeats):
        stoi(clean48, noisy48, 48000)
    per_call = (time.perf_counter() - started) / repeats
    print(f"       STOI of 3 s at 48 kHz takes {1000 * per_call:.1f} ms")


# --- SI-SDR -----------------------------------------------------------------------------------


def test_si_sdr() -> None:
    clean = speech_like(16000)
    itself = si_sdr(clean, clean)
    check("SI-SDR of x vs itself is huge", itself > 100.0, f"{itself:.1f} dB")
    scaled = si_sdr(3.0 * clean, clean)
    check("SI-SDR of 3x vs x is huge as well, the same value", scaled > 100.0
          and abs(scaled - itself) < 1.0, f"{scaled:.1f} dB")

    noisy = clean + white_noise_at_snr(clean, 10.0)
    at_10 = si_sdr(noisy, clean)
    check("SI-SDR of x + noise at 10 dB SNR is about 10 dB", abs(at_10 - 10.0) < 0.3,
          f"{at_10:.3f} dB")
    check("SI-SDR is scale invariant (x + noise vs 3 (x + noise))",
          abs(si_sdr(3.0 * noisy, clean) - at_10) < 1e-9)
    check("SI-SDR ignores a DC offset", abs(si_sdr(noisy + 0.5, clean) - at_10) < 1e-9)

    better = clean + white_noise_at_snr(clean, 15.0)
    improvement = si_sdr_improvement(better, noisy, clean)
    check("SI-SDR improvement from 10 dB to 15 dB SNR is about 5 dB",
          abs(improvement - 5.0) < 0.5, f"{improvement:.3f} dB")


# --- Bootstrap --------------------------------------------------------------------------------


def test_bootstrap() -> None:
    rng = np.random.default_rng(3)
    few = rng.normal(10.0, 2.0, size=40)
    many = rng.normal(10.0, 2.0, size=1600)
    mean_few, low_few, high_few = bootstrap_mean_ci(few)
    mean_many, low_many, high_many = bootstrap_mean_ci(many)
    check("bootstrap interval contains the mean (40 values)", low_few <= mean_few <= high_few,
          f"{mean_few:.3f} in [{low_few:.3f}, {high_few:.3f}]")
    check("bootstrap interval contains the mean (1600 values)",
          low_many <= mean_many <= high_many,
          f"{mean_many:.3f} in [{low_many:.3f}, {high_many:.3f}]")
    check("bootstrap interval narrows with more samples",
          high_many - low_many < 0.5 * (high_few - low_few),
          f"width {high_few - low_few:.3f} -> {high_many - low_many:.3f}")
    # For normal data the 95 % interval is close to mean +- 1.96 standard errors.
    expected = 2 * 1.96 * np.std(many, ddof=1) / math.sqrt(many.size)
    check("bootstrap interval width matches the normal theory",
          abs((high_many - low_many) / expected - 1.0) < 0.1,
          f"{high_many - low_many:.4f} vs {expected:.4f}")
    check("bootstrap is reproducible with a seed",
          bootstrap_mean_ci(few, seed=5) == bootstrap_mean_ci(few, seed=5))


# --- speexdsp baseline ------------------------------------------------------------------------


def test_speexdsp() -> None:
    """The wrapper works: white noise plus a gated tone at 0 dB SNR comes out with much less
    energy where only noise lives (above 1.5 kHz) and with the tone kept. The tone is switched
    on and off (like syllables) because speexdsp's noise estimator would, correctly, learn a
    steady tone as noise and suppress it too."""
    try:
        from enhance.speexdsp_baseline import speexdsp_denoise
    except OSError as error:
        check("speexdsp library loads", False, str(error))
        return
    for sample_rate in (16000, 48000):
        count = 4 * sample_rate + 123  # not a whole number of frames: exercises the padding
        t = np.arange(count) / sample_rate
        gate = (np.sin(2 * np.pi * 2.0 * t) > 0.0).astype(np.float64)
        tone = 0.1 * np.sin(2 * np.pi * 440.0 * t) * gate
        noise = np.random.default_rng(4).standard_normal(count) * math.sqrt(np.mean(tone ** 2))
        mixture = tone + noise
        output = speexdsp_denoise(mixture, sample_rate, suppress_db=-15)
        check(f"speexdsp keeps the length at {sample_rate} Hz", output.shape == mixture.shape)

        settled = slice(sample_rate, count)  # after the noise estimate has converged

        def band_energy(audio, low_hz, high_hz):
            sos = scipy.signal.butter(4, [low_hz, high_hz], "bandpass", fs=sample_rate,
                                      output="sos")
            return np.mean(scipy.signal.sosfiltfilt(sos, audio)[settled] ** 2)

        noise_change = 10 * np.log10(band_energy(output, 1500, 7000)
                                     / band_energy(mixture, 1500, 7000))
        tone_change = 10 * np.log10(band_energy(output, 400, 480)
                                    / band_energy(mixture, 400, 480))
        check(f"speexdsp reduces noise energy at {sample_rate} Hz", noise_change < -6.0,
              f"{noise_change:.1f} dB")
        check(f"speexdsp keeps the gated tone at {sample_rate} Hz", abs(tone_change) < 3.0,
              f"{tone_change:.1f} dB")

        passthrough = speexdsp_denoise(mixture, sample_rate, suppress_db=0)
        error_db = 10 * np.log10(np.mean((passthrough - mixture)[settled] ** 2)
                                 / np.mean(mixture ** 2))
        check(f"speexdsp at 0 dB suppression is aligned with its input at {sample_rate} Hz",
              error_db < -30.0, f"difference {error_db:.1f} dB")


# --- Noise generators -------------------------------------------------------------------------


def test_noise() -> None:
    import torch
    from enhance import noise

    check("held-out noise types are disjoint from training ones",
          not set(noise.TRAIN_NOISE_TYPES) & set(noise.HELDOUT_NOISE_TYPES)
          and set(noise.HELDOUT_NOISE_TYPES) == {"tones", "clicks"})
    talkers = [torch.as_tensor(speech_like(16000, seconds=2.0, seed=s), dtype=torch.float32)
               for s in range(10, 14)]
    for sample_rate in (16000, 48000):
        bank = talkers if sample_rate == 16000 else [
            torch.as_tensor(speech_like(48000, seconds=2.0, seed=s), dtype=torch.float32)
            for s in range(10, 14)]
        for kind in noise.TRAIN_NOISE_TYPES + noise.HELDOUT_NOISE_TYPES:
            count = int(1.7 * sample_rate)
            first = noise.make_noise(kind, count, sample_rate,
                                     torch.Generator().manual_seed(11), speech=bank)
            again = noise.make_noise(kind, count, sample_rate,
                                     torch.Generator().manual_seed(11), speech=bank)
            other = noise.make_noise(kind, count, sample_rate,
                                     torch.Generator().manual_seed(12), speech=bank)
            rms = float(first.pow(2).mean().sqrt())
            check(f"noise {kind} at {sample_rate} Hz: float32, length, unit RMS, seeded",
                  first.dtype == torch.float32 and first.shape == (count,)
                  and abs(rms - 1.0) < 1e-4 and torch.equal(first, again)
                  and not torch.equal(first, other) and bool(torch.isfinite(first).all()),
                  f"rms {rms:.6f}")

    # Spectral slopes: power per octave band, pink flat in octaves, brown falling 3 dB/octave.
    sample_rate = 16000
    for kind, expected_db_per_octave in (("white", 3.0), ("pink", 0.0), ("brown", -3.0)):
        signal = noise.make_noise(kind, 8 * sample_rate, sample_rate,
                                  torch.Generator().manual_seed(1)).double().numpy()
        power = np.abs(np.fft.rfft(signal)) ** 2
        hz = np.fft.rfftfreq(signal.size, 1.0 / sample_rate)
        octave_db = [10 * np.log10(power[(hz >= low) & (hz < 2 * low)].sum())
                     for low in (125.0, 250.0, 500.0, 1000.0, 2000.0)]
        slope = np.polyfit(np.arange(len(octave_db)), octave_db, 1)[0]
        check(f"{kind} noise has {expected_db_per_octave:+.0f} dB of power per octave",
              abs(slope - expected_db_per_octave) < 0.5, f"{slope:+.2f} dB/octave")

    hum_signal = noise.make_noise("hum", 4 * sample_rate, sample_rate,
                                  torch.Generator().manual_seed(2)).double().numpy()
    spectrum = np.abs(np.fft.rfft(hum_signal))
    hz = np.fft.rfftfreq(hum_signal.size, 1.0 / sample_rate)
    peak = hz[np.argmax(spectrum * (hz < 100.0))]
    check("hum has its fundamental near 50 or 60 Hz",
          min(abs(peak - 50.0), abs(peak - 60.0)) < 1.0, f"peak at {peak:.2f} Hz")

    speech = torch.as_tensor(speech_like(16000), dtype=torch.float32)
    pink = noise.make_noise("pink", speech.numel(), 16000, torch.Generator().manual_seed(3))
    noisy, scaled = noise.mix_at_snr(speech, pink, 5.0)
    measured = 10 * math.log10(float(speech.pow(2).sum() / scaled.pow(2).sum()))
    check("mix_at_snr hits the requested SNR", abs(measured - 5.0) < 1e-3
          and torch.allclose(noisy, speech + scaled), f"{measured:.4f} dB")

    rir = noise.synthetic_rir(16000, 0.6, torch.Generator().manual_seed(4))
    tail = rir[int(0.006 * 16000):].double().numpy() ** 2
    early = tail[: int(0.1 * 16000)].mean()
    late = tail[int(0.4 * 16000):int(0.5 * 16000)].mean()
    # 60 dB per 0.6 s: about 40 dB between windows 0.4 s apart.
    drop_db = 10 * math.log10(early / late)
    check("synthetic RIR decays at its RT60 with a unit direct path",
          float(rir[0]) == 1.0 and 34.0 < drop_db < 46.0, f"drop {drop_db:.1f} dB over 0.4 s")
    impulse = torch.zeros(2000)
    impulse[100] = 1.0
    reverberant = noise.apply_rir(impulse, rir)
    check("apply_rir keeps the length and puts the direct path at lag 0",
          reverberant.shape == impulse.shape
          and torch.allclose(reverberant[100:], rir[:1900], atol=1e-6))


def test_batched_noise() -> None:
    """The batched training generators: shapes, unit RMS, seeding, the held-out types refused,
    and the same long-term spectra (octave band powers, mean over clips) as the per-clip ones."""
    import torch
    from enhance import noise

    sample_rate, count, rows = 16000, 16000, 48
    talkers = [torch.as_tensor(speech_like(16000, seconds=2.0, seed=s), dtype=torch.float32)
               for s in range(10, 14)]
    pool = noise.SpeechPool(talkers)
    edges = (62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)

    def octave_db(clips):
        power = np.abs(np.fft.rfft(clips.double().numpy(), axis=-1)) ** 2
        hz = np.fft.rfftfreq(clips.shape[-1], 1.0 / sample_rate)
        return np.array([10 * np.log10(power[:, (hz >= lo) & (hz < hi)].sum(-1).mean())
                         for lo, hi in zip(edges[:-1], edges[1:])])

    for kind in noise.TRAIN_NOISE_TYPES:
        first = noise.batch_noise(kind, rows, count, sample_rate,
                                  torch.Generator().manual_seed(21), speech=pool)
        again = noise.batch_noise(kind, rows, count, sample_rate,
                                  torch.Generator().manual_seed(21), speech=pool)
        rms = first.pow(2).mean(-1).sqrt()
        generator = torch.Generator().manual_seed(22)
        single = torch.stack([noise.make_noise(kind, count, sample_rate, generator,
                                               speech=talkers) for _ in range(rows)])
        difference = float(np.abs(octave_db(first) - octave_db(single)).max())
        check(f"batched {kind}: float32, shape, unit RMS per row, seeded, spectrum of {kind}",
              first.dtype == torch.float32 and first.shape == (rows, count)
              and float((rms - 1.0).abs().max()) < 1e-4 and torch.equal(first, again)
              and bool(torch.isfinite(first).all()) and difference < 3.0,
              f"largest octave difference {difference:.2f} dB")
    for kind in noise.HELDOUT_NOISE_TYPES:
        try:
            noise.batch_noise(kind, 2, count, sample_rate, torch.Generator().manual_seed(1))
            refused = False
        except ValueError:
            refused = True
        check(f"held-out {kind} has no batched (training) generator", refused)

    rirs = noise.batch_rirs(64, sample_rate, torch.Generator().manual_seed(4),
                            rt60_range=(0.6, 0.6))
    tail = rirs[:, int(0.006 * sample_rate):].double().numpy() ** 2
    drop_db = 10 * math.log10(tail[:, :int(0.1 * sample_rate)].mean()
                              / tail[:, int(0.4 * sample_rate):int(0.5 * sample_rate)].mean())
    check("batched RIRs: unit direct path, decay at their RT60",
          bool((rirs[:, 0] == 1.0).all()) and 34.0 < drop_db < 46.0,
          f"drop {drop_db:.1f} dB over 0.4 s")


def main() -> int:
    for test in (test_stoi, test_si_sdr, test_bootstrap, test_speexdsp, test_noise,
                 test_batched_noise):
        print(f"== {test.__name__}")
        test()
    if _failures:
        print(f"{len(_failures)} check(s) failed: " + "; ".join(_failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
