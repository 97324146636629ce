#!/usr/bin/env python3
"""Writes data/fixtures/dsp_features.safetensors, the golden features of docs/features.md.

The expected values come from a reference written here again in numpy/scipy, independently of
features.py (scipy's hann window and chirp, numpy's FFT, loops where the doc has sums), on two
chirps with a little seeded noise: windows, the 16 kHz log-mel front-end (STFT, mel weights,
log energies, streaming deltas), the 48 kHz ERB front-end (STFT, ERB weights, log energies),
band gains onto bins and through the inverse STFT, and the running normaliser across gaps.
The C++ engine's test reads the file; every tensor is F64. In both modes the features.py
functions (torch, float64) are then compared with the reference, and the STFT/iSTFT pair must
give its input back, delayed by N - H.

    /usr/bin/python3 models/train/make_dsp_fixtures.py [--out data/fixtures/dsp_features.safetensors] [--check]

--check regenerates the reference in memory and compares it with the file on disk instead of
writing it.
"""
import argparse
import math
import os
import sys

import numpy as np
import scipy.signal
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import features  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

SEED = 20261123
TAU = 20.0
EPS = 1e-4
# Normaliser gaps: a leading one (the first finite value comes after it), a run of three, and
# an infinity after the level shift at 150.
NAN_AT = (0, 40, 41, 42)
INF_AT = (200,)
DISK_TOLERANCE = 1e-12     # relative to max(1, max |value|): committed vs regenerated
TORCH_TOLERANCE = 1e-9     # max |torch - reference| / max |reference|


# ----- the numpy/scipy reference ------------------------------------------------------------

def ref_window(name, n):
    if name == "hann":
        return scipy.signal.get_window("hann", n)        # periodic: fftbins=True by default
    if name == "sqrt_hann":
        return np.sqrt(scipy.signal.get_window("hann", n))
    k = np.arange(n)
    return np.sin(np.pi / 2 * np.sin(np.pi * (k + 0.5) / n) ** 2)


def ref_stft(x, w, hop, fft_size):
    """Frame m holds x[(m+1) H - N .. (m+1) H - 1], zero before the start."""
    n = len(w)
    rows = []
    for m in range(len(x) // hop):
        end = (m + 1) * hop
        frame = np.zeros(n)
        start = max(0, end - n)
        frame[n - (end - start):] = x[start:end]
        rows.append(np.fft.rfft(w * frame, fft_size))
    return np.array(rows)


def ref_istft(spec, w, hop, fft_size):
    """Overlap-add with s = w / d; returns the first M * H samples, where output t is input
    t - (N - H): what a stream has emitted after the last frame."""
    n = len(w)
    d = np.zeros(hop)
    for j in range(hop):
        for q in range(-(-n // hop)):
            if j + q * hop < n:
                d[j] += w[j + q * hop] ** 2
    s = np.array([w[i] / d[i % hop] for i in range(n)])
    count = spec.shape[0]
    out = np.zeros((count - 1) * hop + n)
    for m in range(count):
        out[m * hop:m * hop + n] += s * np.fft.irfft(spec[m], fft_size)[:n]
    return out[:count * hop]


def ref_triangles(edges, sample_rate, fft_size):
    f = np.arange(fft_size // 2 + 1) * sample_rate / fft_size
    weights = np.zeros((len(edges) - 2, len(f)))
    for b in range(len(edges) - 2):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        weights[b] = np.maximum(0.0, np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)))
    return weights


def ref_mel_weights(sample_rate, fft_size, n_bands):
    top = 2595.0 * np.log10(1.0 + sample_rate / 2 / 700.0)
    edges = 700.0 * (10.0 ** (np.linspace(0.0, top, n_bands + 2) / 2595.0) - 1.0)
    return ref_triangles(edges, sample_rate, fft_size)


def ref_erb_weights(sample_rate, fft_size, n_bands):
    nyquist = sample_rate / 2
    erb_top = 21.4 * np.log10(1.0 + 0.00437 * nyquist)
    peaks = np.empty(n_bands)
    for b in range(n_bands):
        on_erb = (10.0 ** (b * erb_top / (n_bands - 1) / 21.4) - 1.0) / 0.00437
        peaks[b] = min(nyquist, max(b * sample_rate / fft_size, on_erb))
    peaks[-1] = nyquist   # "the last is sr/2", whatever erb_inv(erb(sr/2)) rounds to
    edges = np.concatenate([[-peaks[1]], peaks, [sample_rate - peaks[-2]]])
    return ref_triangles(edges, sample_rate, fft_size)


def ref_log_energies(spec, weights):
    energies = (np.abs(spec) ** 2) @ weights.T
    return np.log(energies + 1e-6)


def ref_streaming_deltas(c):
    """What a stream has emitted after the last frame: deltas of frames 0 .. M - 3."""
    def at(i):
        return c[max(i, 0)]    # frames before the first copy the first
    return np.array([(at(m + 1) - at(m - 1) + 2 * (at(m + 2) - at(m - 2))) / 10
                     for m in range(len(c) - 2)])


def ref_normaliser(x, dt, tau, eps):
    y = np.zeros(len(x))
    mean = var = 0.0
    seen = False
    elapsed = 0.0
    for t in range(len(x)):
        elapsed += dt[t]
        if not math.isfinite(x[t]):
            continue                          # a gap: state untouched, output 0
        if not seen:
            mean, var, seen = x[t], 0.0, True
        else:
            a = math.exp(-elapsed / tau)
            delta = x[t] - mean
            mean += (1 - a) * delta
            var = a * (var + (1 - a) * delta ** 2)
        y[t] = (x[t] - mean) / math.sqrt(var + eps)
        elapsed = 0.0
    return y


def reference():
    """Every fixture tensor, as {name: numpy array}, plus the normaliser's raw input."""
    rng = np.random.default_rng(SEED)
    t16 = np.arange(4000) / 16000
    chirp_16k = 0.5 * scipy.signal.chirp(t16, f0=50, t1=0.25, f1=7900, method="linear")
    chirp_16k = chirp_16k + rng.normal(0.0, 0.01, len(t16))
    t48 = np.arange(9600) / 48000
    chirp_48k = 0.5 * scipy.signal.chirp(t48, f0=50, t1=0.2, f1=23500, method="linear")
    chirp_48k = chirp_48k + rng.normal(0.0, 0.01, len(t48))
    r = {"chirp_16k": chirp_16k, "chirp_48k": chirp_48k}
    for name in ("hann", "sqrt_hann", "vorbis"):
        r[f"window_{name}_400"] = ref_window(name, 400)

    spec16 = ref_stft(chirp_16k, ref_window("hann", 400), 160, 512)
    r["stft_16k_real"], r["stft_16k_imag"] = spec16.real, spec16.imag
    r["mel_weights_16k"] = ref_mel_weights(16000, 512, 40)
    r["log_mel_16k"] = ref_log_energies(spec16, r["mel_weights_16k"])
    r["deltas_16k"] = ref_streaming_deltas(r["log_mel_16k"])

    vorbis = ref_window("vorbis", 960)
    spec48 = ref_stft(chirp_48k, vorbis, 480, 960)
    r["erb_weights_48k"] = ref_erb_weights(48000, 960, 64)
    r["stft_48k_real"], r["stft_48k_imag"] = spec48.real, spec48.imag
    r["log_erb_48k"] = ref_log_energies(spec48, r["erb_weights_48k"])
    r["gains_64"] = rng.uniform(0.0, 1.0, 64)
    r["bin_gains_48k"] = r["gains_64"] @ r["erb_weights_48k"]
    r["enhanced_48k"] = ref_istft(spec48 * r["bin_gains_48k"], vorbis, 480, 960)
    # A reference that cannot give its own input back proves nothing: unit gains must.
    plain = ref_istft(spec48, vorbis, 480, 960)
    assert np.abs(plain[480:] - chirp_48k[:-480]).max() < 1e-12 and \
        np.abs(plain[:480]).max() < 1e-12, "reference STFT/iSTFT does not reconstruct"
    assert np.abs(r["erb_weights_48k"].sum(axis=0) - 1).max() < 1e-12, "ERB bands do not sum to 1"

    walk = 5.0 + np.cumsum(rng.normal(0.0, 0.3, 300))
    walk[150:] += 8.0                                  # a level shift to adapt to
    raw = walk.copy()
    raw[list(NAN_AT)] = np.nan
    raw[list(INF_AT)] = np.inf
    r["normaliser_dt"] = rng.uniform(0.5, 2.0, 300)
    gaps = ~np.isfinite(raw)
    # The C++ reader and other tools need not cope with non-finite numbers: gaps are stored
    # as 0.0 and marked in the mask.
    r["normaliser_input"] = np.where(gaps, 0.0, raw)
    r["normaliser_gap_mask"] = gaps.astype(np.float64)
    r["normaliser_output"] = ref_normaliser(raw, r["normaliser_dt"], TAU, EPS)
    return r, raw


ORDER = ("chirp_16k", "chirp_48k", "window_hann_400", "window_sqrt_hann_400",
         "window_vorbis_400", "stft_16k_real", "stft_16k_imag", "mel_weights_16k",
         "log_mel_16k", "deltas_16k", "erb_weights_48k", "stft_48k_real", "stft_48k_imag",
         "log_erb_48k", "gains_64", "bin_gains_48k", "enhanced_48k", "normaliser_input",
         "normaliser_dt", "normaliser_gap_mask", "normaliser_output")


# ----- features.py against the reference ----------------------------------------------------

def report(name, error, ok):
    print(f"{name:34s} {error:.3e}  {'PASS' if ok else 'FAIL'}")
    return ok


def compare_torch(r, raw):
    """features.py in float64 against the reference: one line per comparison; the failures."""
    def rel(got, want):
        got = got.detach().numpy()
        return float(np.abs(got - want).max() / np.abs(want).max())

    def t(name):
        return torch.tensor(r[name], dtype=torch.float64)

    checks = []
    for name in ("hann", "sqrt_hann", "vorbis"):
        checks.append((f"window_{name}_400",
                       rel(features.make_window(name, 400, torch.float64), r[f"window_{name}_400"])))
    hann = features.make_window("hann", 400, torch.float64)
    spec16 = features.stft(t("chirp_16k"), hann, 160, 512)
    checks += [("stft_16k_real", rel(spec16.real, r["stft_16k_real"])),
               ("stft_16k_imag", rel(spec16.imag, r["stft_16k_imag"])),
               ("mel_weights_16k", rel(features.mel_filterbank(16000, 512, 40,
                                                               dtype=torch.float64),
                                       r["mel_weights_16k"]))]
    log_mel = features.log_mel(t("chirp_16k"), 16000, 400, 160, 40)
    checks += [("log_mel_16k", rel(log_mel, r["log_mel_16k"])),
               ("deltas_16k", rel(features.deltas(log_mel, pad_end=False), r["deltas_16k"])),
               ("deltas_16k (offline, 0..22)", rel(features.deltas(log_mel)[:-2],
                                                   r["deltas_16k"]))]

    vorbis = features.make_window("vorbis", 960, torch.float64)
    erb = features.erb_filterbank(48000, 960, 64, dtype=torch.float64)
    spec48 = features.stft(t("chirp_48k"), vorbis, 480, 960)
    bin_gains = features.gains_to_bins(t("gains_64"), erb)
    enhanced = features.istft(spec48 * bin_gains, vorbis, 480, 960, 9600)
    checks += [("erb_weights_48k", rel(erb, r["erb_weights_48k"])),
               ("stft_48k_real", rel(spec48.real, r["stft_48k_real"])),
               ("stft_48k_imag", rel(spec48.imag, r["stft_48k_imag"])),
               ("log_erb_48k", rel(features.erb_bands(t("chirp_48k"), 48000, 960, 480, 64),
                                   r["log_erb_48k"])),
               ("bin_gains_48k", rel(bin_gains, r["bin_gains_48k"])),
               ("enhanced_48k", rel(enhanced, r["enhanced_48k"])),
               ("normaliser_output", rel(features.running_normalise(
                   torch.tensor(raw), t("normaliser_dt"), TAU, EPS), r["normaliser_output"]))]

    # The pair gives its input back, N - H samples late (F > N included: samples N .. F-1
    # of the inverse FFT are dropped).
    x = t("chirp_48k")

    def delayed_by(lag):
        return torch.cat([x.new_zeros(lag), x[:len(x) - lag]]).numpy()
    for name, hop, fft_size in (("hann", 480, 960), ("sqrt_hann", 480, 960),
                                ("vorbis", 480, 960), ("hann", 240, 960), ("hann", 240, 1024)):
        w = features.make_window(name, 960, torch.float64)
        y = features.istft(features.stft(x, w, hop, fft_size), w, hop, fft_size, len(x))
        checks.append((f"istft(stft) {name} H={hop} F={fft_size}",
                       rel(y, delayed_by(960 - hop))))
    return sum(not report(name, error, error < TORCH_TOLERANCE) for name, error in checks), \
        len(checks)


def compare_with_disk(path, r):
    """The committed file against the regenerated reference: the failures and the count."""
    metadata, on_disk = read_safetensors(path)
    failures = 0
    for name in ORDER:
        want = r[name]
        if name not in on_disk or on_disk[name][0] != list(want.shape):
            print(f"disk {name}: missing or shaped {on_disk.get(name, [None])[0]}  FAIL")
            failures += 1
            continue
        worst = float(np.abs(np.array(on_disk[name][1]) - want.reshape(-1)).max())
        scale = max(1.0, float(np.abs(want).max()))
        failures += not report(f"disk {name}", worst / scale, worst / scale <= DISK_TOLERANCE)
    wrong = {k: (metadata.get(k), v) for k, v in fixture_metadata().items() if metadata.get(k) != v}
    print(f"{'disk metadata':34s} {'PASS' if not wrong else f'FAIL {wrong}'}")
    return failures + bool(wrong), len(ORDER) + 1


def fixture_metadata():
    return {"generator": "models/train/make_dsp_fixtures.py", "spec": "docs/features.md",
            "seed": str(SEED), "normaliser_tau": repr(TAU), "normaliser_eps": repr(EPS)}


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(root, "data", "fixtures",
                                                      "dsp_features.safetensors"))
    parser.add_argument("--check", action="store_true",
                        help="compare with the file on disk instead of writing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    r, raw = reference()
    failures = checked = 0
    if args.check:
        failed, count = compare_with_disk(args.out, r)
        failures, checked = failures + failed, checked + count
    else:
        tensors = [(name, list(r[name].shape), r[name].reshape(-1).tolist()) for name in ORDER]
        size = write_safetensors(args.out, tensors, fixture_metadata(), dtype="F64")
        print(f"wrote {args.out}: {size} bytes")
    failed, count = compare_torch(r, raw)
    failures, checked = failures + failed, checked + count
    print(f"{checked - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
