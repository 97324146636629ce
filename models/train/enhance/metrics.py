"""Objective quality measures for the speech enhancer: SI-SDR, STOI and bootstrap intervals.

numpy/scipy only, so the numbers do not depend on the training framework or its device, and an
evaluation can run anywhere the model's outputs have been written to disk. Audio is a 1-D float
array; both signals of a pair must have the same length and sample rate (the enhancer's output
is aligned with its input, so nothing here searches for a delay).

STOI follows Taal, Hendriks, Heusdens and Jensen, "An algorithm for intelligibility prediction of
time-frequency weighted noisy speech", IEEE TASLP 19(7), 2011, step by step; README.md lists the
steps and the choices the paper leaves open.
"""
import math
from typing import Sequence, Tuple

import numpy as np
import scipy.signal

# --- SI-SDR -----------------------------------------------------------------------------------


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio of `estimate` against `reference`, in dB.

    Both signals are made zero-mean first, so a DC offset is neither rewarded nor punished. The
    reference is then scaled by the least-squares factor that best explains the estimate; what
    that scaled reference leaves unexplained is the distortion. A perfect (or merely rescaled)
    estimate has no distortion; distortion below float64 round-off of the target is not
    measurable, so the ratio is capped there (about 156 dB) instead of reaching infinity, and
    means over a test set stay finite.
    """
    estimate, reference = _as_pair(estimate, reference)
    estimate = estimate - estimate.mean()
    reference = reference - reference.mean()
    reference_energy = float(np.dot(reference, reference))
    if reference_energy <= 0.0:
        raise ValueError("the reference is silent (zero after removing its mean)")
    scale = float(np.dot(estimate, reference)) / reference_energy
    target = scale * reference
    distortion = estimate - target
    tiny = np.finfo(np.float64).tiny
    target_energy = max(float(np.dot(target, target)), tiny)
    distortion_energy = max(float(np.dot(distortion, distortion)),
                            np.finfo(np.float64).eps * target_energy)
    return 10.0 * math.log10(target_energy / distortion_energy)


def si_sdr_improvement(estimate: np.ndarray, noisy: np.ndarray, reference: np.ndarray) -> float:
    """How many dB of SI-SDR the enhancer gained over its own input (SI-SDRi).

    Reported next to the absolute value because test mixtures at different input SNRs are only
    comparable through the improvement.
    """
    return si_sdr(estimate, reference) - si_sdr(noisy, reference)


# --- STOI -------------------------------------------------------------------------------------

STOI_SAMPLE_RATE = 10_000      # the paper's analysis rate: speech up to 5 kHz matters
STOI_FRAME = 256               # 25.6 ms frames at 10 kHz
STOI_HOP = STOI_FRAME // 2     # 50 % overlap
STOI_FFT = 512                 # each frame zero-padded to 512 points
STOI_BANDS = 15                # one-third octave bands ...
STOI_LOWEST_CENTRE_HZ = 150.0  # ... the first centred on 150 Hz
STOI_SEGMENT = 30              # N: frames per short-time segment (384 ms)
STOI_BETA_DB = -15.0           # lower bound on the per-segment signal-to-distortion ratio
STOI_SILENCE_RANGE_DB = 40.0   # frames this far below the loudest clean frame are dropped


def stoi(clean: np.ndarray, processed: np.ndarray, sample_rate: int) -> float:
    """Short-time objective intelligibility of `processed` given `clean` (about 0..1, higher is
    better).

    STOI compares short-time temporal envelopes of the two signals in one-third octave bands,
    which tracks listeners' word scores for noisy and time-frequency-weighted (gain-masked)
    speech, the kind of processing this enhancer does, better than SNR-like measures. Requires at
    least STOI_SEGMENT frames (about 0.4 s) of non-silent speech after resampling.
    """
    clean, processed = _as_pair(clean, processed)
    clean = _resample_to(clean, sample_rate, STOI_SAMPLE_RATE)
    processed = _resample_to(processed, sample_rate, STOI_SAMPLE_RATE)

    window = scipy.signal.get_window("hann", STOI_FRAME)  # periodic: overlap-adds to one
    clean, processed = _remove_silent_frames(clean, processed, window)

    clean_bands = _third_octave_envelopes(clean, window)          # (J, M)
    processed_bands = _third_octave_envelopes(processed, window)  # (J, M)
    frame_count = clean_bands.shape[1]
    if frame_count < STOI_SEGMENT:
        raise ValueError(
            f"STOI needs at least {STOI_SEGMENT} non-silent frames "
            f"({STOI_SEGMENT * STOI_HOP / STOI_SAMPLE_RATE:.2f} s), got {frame_count}")

    # Short-time segments: for every frame m >= N-1, the N frames ending at m, per band.
    clean_segments = np.lib.stride_tricks.sliding_window_view(
        clean_bands, STOI_SEGMENT, axis=1)                        # (J, M-N+1, N)
    processed_segments = np.lib.stride_tricks.sliding_window_view(
        processed_bands, STOI_SEGMENT, axis=1)

    processed_segments = _normalise_and_clip(clean_segments, processed_segments)
    correlations = _correlation(clean_segments, processed_segments)
    return float(correlations.mean())


def _resample_to(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling by the reduced ratio rate_out / rate_in."""
    if rate_in <= 0:
        raise ValueError(f"sample rate must be positive, got {rate_in}")
    if rate_in == rate_out:
        return audio
    common = math.gcd(int(rate_in), int(rate_out))
    return scipy.signal.resample_poly(audio, rate_out // common, rate_in // common)


def _frames(audio: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Windowed frames (count, STOI_FRAME) at hop STOI_HOP; a tail shorter than a frame is
    left out."""
    if audio.shape[0] < STOI_FRAME:
        return np.zeros((0, STOI_FRAME))
    framed = np.lib.stride_tricks.sliding_window_view(audio, STOI_FRAME)[::STOI_HOP]
    return framed * window


def _remove_silent_frames(clean: np.ndarray, processed: np.ndarray,
                          window: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Drop the frames where clean speech is more than 40 dB below its loudest frame, from both
    signals, and rebuild each by overlap-adding the frames that are left.

    Speech pauses carry no intelligibility; left in, they would fill segments with noise-only
    envelopes whose correlation says nothing about the speech. The decision uses only the clean
    signal, so the same frames go from both and the pair stays aligned.
    """
    clean_frames = _frames(clean, window)
    processed_frames = _frames(processed, window)
    if clean_frames.shape[0] == 0:
        raise ValueError(f"STOI needs at least {STOI_FRAME} samples at 10 kHz")
    energy_db = 20.0 * np.log10(np.linalg.norm(clean_frames, axis=1)
                                + np.finfo(np.float64).tiny)
    keep = energy_db >= energy_db.max() - STOI_SILENCE_RANGE_DB
    return _overlap_add(clean_frames[keep]), _overlap_add(processed_frames[keep])


def _overlap_add(frames: np.ndarray) -> np.ndarray:
    """Signal of the frames placed STOI_HOP apart and summed."""
    count = frames.shape[0]
    audio = np.zeros((count - 1) * STOI_HOP + STOI_FRAME) if count else np.zeros(0)
    # With 50 % overlap the even frames tile the signal end to end, and so do the odd ones
    # (shifted by a hop): two contiguous adds instead of a loop over frames.
    for parity in (0, 1):
        part = frames[parity::2].ravel()
        start = parity * STOI_HOP
        audio[start:start + part.size] += part
    return audio


def _third_octave_matrix() -> np.ndarray:
    """(J, STOI_FFT/2+1) 0/1 matrix: bin k belongs to band j when its frequency lies in
    [centre_j * 2^(-1/6), centre_j * 2^(1/6)). Adjacent bands share an edge, so every bin
    belongs to at most one band."""
    bin_hz = np.arange(STOI_FFT // 2 + 1) * STOI_SAMPLE_RATE / STOI_FFT
    centres = STOI_LOWEST_CENTRE_HZ * 2.0 ** (np.arange(STOI_BANDS) / 3.0)
    lower = centres * 2.0 ** (-1.0 / 6.0)
    upper = centres * 2.0 ** (1.0 / 6.0)
    matrix = ((bin_hz[None, :] >= lower[:, None]) & (bin_hz[None, :] < upper[:, None]))
    assert matrix.sum(axis=1).min() >= 1, "every band must hold at least one bin"
    return matrix.astype(np.float64)


_BAND_MATRIX = _third_octave_matrix()


def _third_octave_envelopes(audio: np.ndarray, window: np.ndarray) -> np.ndarray:
    """(J, M) magnitudes X_j(m) = sqrt(sum over band j's bins of |X(k, m)|^2): the short-time
    temporal envelope of each band."""
    spectra = np.fft.rfft(_frames(audio, window), n=STOI_FFT, axis=1)  # (M, K)
    power = spectra.real ** 2 + spectra.imag ** 2
    return np.sqrt(_BAND_MATRIX @ power.T)


def _normalise_and_clip(clean: np.ndarray, processed: np.ndarray) -> np.ndarray:
    """Scale each processed segment to the clean segment's energy, then bound it from above by
    (1 + 10^(-beta/20)) times the clean envelope.

    The normalisation makes STOI blind to overall level; the clip stops a single severely
    degraded unit (for example noise filling a band the speech left empty) from dominating a
    segment's correlation, which bounds its signal-to-distortion ratio below at beta dB.
    """
    clean_norm = np.linalg.norm(clean, axis=-1, keepdims=True)
    processed_norm = np.linalg.norm(processed, axis=-1, keepdims=True)
    scale = clean_norm / np.maximum(processed_norm, np.finfo(np.float64).tiny)
    bound = 1.0 + 10.0 ** (-STOI_BETA_DB / 20.0)
    return np.minimum(scale * processed, bound * clean)


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sample correlation coefficient along the last axis. A constant vector correlates 0 with
    anything (there is no envelope to follow)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    numerator = np.sum(a * b, axis=-1)
    denominator = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return numerator / np.maximum(denominator, np.finfo(np.float64).tiny)


# --- Confidence intervals ---------------------------------------------------------------------


def bootstrap_mean_ci(values: Sequence[float], n_resamples: int = 2000, seed: int = 0,
                      level: float = 0.95) -> Tuple[float, float, float]:
    """(mean, low, high): the mean of `values` and its percentile-bootstrap interval.

    Per-utterance scores are far from normal (STOI saturates near 1, SI-SDR has outliers), so
    the interval comes from resampling the utterances with replacement rather than from a
    standard error. Seeded, so a report is reproducible.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size == 0:
        raise ValueError("need at least one value")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError(f"need at least one resample, got {n_resamples}")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    # Resample in blocks so memory stays bounded for long value lists.
    block = max(1, min(n_resamples, 4_000_000 // data.size))
    for start in range(0, n_resamples, block):
        stop = min(n_resamples, start + block)
        indices = rng.integers(0, data.size, size=(stop - start, data.size))
        means[start:stop] = data[indices].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(data.mean()), float(low), float(high)


def _as_pair(a: np.ndarray, b: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"expected 1-D signals, got shapes {a.shape} and {b.shape}")
    if a.shape != b.shape:
        raise ValueError(f"signals differ in length: {a.shape[0]} and {b.shape[0]}")
    return a, b
