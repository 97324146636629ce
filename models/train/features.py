"""Audio features for training, exactly as docs/features.md defines them.

The engine (dsp/, C++) computes the same numbers from the same audio; the fixture
data/fixtures/dsp_features.safetensors, written by make_dsp_fixtures.py from an independent
numpy/scipy reference, proves that both sides agree with the definitions. Audio is a tensor
shaped (..., T); spectra are (..., M, F/2+1) and band features (..., M, B) for M frames. Every
function works in the dtype and on the device of its input (float32 or float64).
"""
import math
from typing import Optional, Union

import torch
import torch.nn.functional as nnf

LOG_FLOOR = 1e-6


def make_window(name: str, n: int, dtype: Optional[torch.dtype] = None,
                device=None) -> torch.Tensor:
    """The periodic window `name` ("hann", "sqrt_hann", "vorbis") of length n."""
    # Computed in float64 and rounded once, so a float32 window is the correctly rounded one.
    k = torch.arange(n, dtype=torch.float64)
    if name in ("hann", "sqrt_hann"):
        w = 0.5 - 0.5 * torch.cos(2 * math.pi * k / n)
        if name == "sqrt_hann":
            w = w.sqrt()
    elif name == "vorbis":
        w = torch.sin(0.5 * math.pi * torch.sin(math.pi * (k + 0.5) / n) ** 2)
    else:
        raise ValueError(f"unknown window {name!r} (hann, sqrt_hann, vorbis)")
    return w.to(dtype=dtype or torch.get_default_dtype(), device=device)


def frame(audio: torch.Tensor, n: int, hop: int) -> torch.Tensor:
    """(..., T) -> (..., T // hop, n): frame m is samples [(m+1) hop - n, (m+1) hop), with
    silence before the start (the streaming convention: a frame per arrived hop)."""
    if not 0 < hop <= n:
        raise ValueError(f"need 0 < hop <= n, got hop {hop}, n {n}")
    count = audio.shape[-1] // hop
    if count == 0:
        return audio.new_zeros(audio.shape[:-1] + (0, n))
    padded = torch.cat([audio.new_zeros(audio.shape[:-1] + (n - hop,)),
                        audio[..., :count * hop]], dim=-1)
    return padded.unfold(-1, n, hop)


def stft(audio: torch.Tensor, window: torch.Tensor, hop: int, fft_size: int) -> torch.Tensor:
    """Complex spectra (..., T // hop, fft_size / 2 + 1) of the windowed frames."""
    n = window.shape[-1]
    if fft_size < n:
        raise ValueError(f"fft_size {fft_size} is shorter than the window ({n})")
    w = window.to(dtype=audio.dtype, device=audio.device)
    frames = frame(audio, n, hop)
    if frames.shape[-2] == 0:  # rfft refuses empty batches
        return torch.zeros(frames.shape[:-1] + (fft_size // 2 + 1,),
                           dtype=torch.complex128 if audio.dtype == torch.float64
                           else torch.complex64, device=audio.device)
    return torch.fft.rfft(w * frames, n=fft_size)


def synthesis_window(window: torch.Tensor, hop: int) -> torch.Tensor:
    """s[n] = w[n] / d[n mod hop] with d[j] = sum_q w[j + q hop]^2: overlap-adding
    s * (w * frame) over all frames gives the frames' samples back."""
    n = window.shape[-1]
    rows = -(-n // hop)
    squares = nnf.pad(window * window, (0, rows * hop - n))   # zeros beyond the window
    d = squares.reshape(rows, hop).sum(dim=0)
    if not bool((d > 0).all()):
        raise ValueError(f"the window's squares do not cover every sample at hop {hop}")
    return window / d.repeat(rows)[:n]


def istft(spec: torch.Tensor, window: torch.Tensor, hop: int, fft_size: int,
          length: int) -> torch.Tensor:
    """Overlap-add of the inverse spectra: the first `length` samples of the output stream,
    whose sample t is input sample t - (N - H) (the pair's latency; earlier samples come from
    the silence before the start). Past M * hop the samples lack frames that have not come
    (what a final flush would emit), and past (M - 1) * hop + N they are zero."""
    n = window.shape[-1]
    real = spec.real.dtype
    s = synthesis_window(window.to(dtype=torch.float64), hop).to(dtype=real, device=spec.device)
    # With fft_size > N the samples N .. F-1 belong to no frame: dropped, as the doc says.
    frames = torch.fft.irfft(spec, n=fft_size)[..., :n] * s          # (..., M, N)
    batch, count = frames.shape[:-2], frames.shape[-2]
    if count == 0:
        return frames.new_zeros(batch + (length,))
    total = (count - 1) * hop + n
    # fold sums the overlapping columns: exactly overlap-add with stride hop.
    columns = frames.reshape(-1, count, n).transpose(1, 2)           # (B, N, M)
    out = nnf.fold(columns, output_size=(1, total), kernel_size=(1, n), stride=(1, hop))
    out = out.reshape(batch + (total,))
    if length <= total:
        return out[..., :length]
    return nnf.pad(out, (0, length - total))


def power(spec: torch.Tensor) -> torch.Tensor:
    """|X|^2, without the square root that abs() would take."""
    return spec.real ** 2 + spec.imag ** 2


def _triangles(edges: torch.Tensor, sample_rate: float, fft_size: int) -> torch.Tensor:
    """W[b][k] for B + 2 edges (Hz) at the bin frequencies k sr / F: (B, F/2 + 1)."""
    f = torch.arange(fft_size // 2 + 1, dtype=torch.float64) * sample_rate / fft_size
    low, peak, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (f - low) / (peak - low)
    falling = (high - f) / (high - peak)
    return torch.minimum(rising, falling).clamp(min=0.0)


def _hz_to_mel(f):
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(sample_rate: float, fft_size: int, n_bands: int, f_min: float = 0.0,
                   f_max: Optional[float] = None,
                   dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """HTK-mel triangles (n_bands, F/2 + 1), edges equally spaced in mel, no normalisation
    (torchaudio's melscale_fbanks(norm=None, mel_scale="htk"), transposed)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    lo, hi = _hz_to_mel(torch.tensor([f_min, f_max], dtype=torch.float64))
    edges = _mel_to_hz(torch.linspace(float(lo), float(hi), n_bands + 2, dtype=torch.float64))
    return _triangles(edges, sample_rate, fft_size).to(dtype or torch.get_default_dtype())


def _erb_rate(f):
    return 21.4 * torch.log10(1.0 + 0.00437 * f)


def _erb_rate_inv(e):
    return (10.0 ** (e / 21.4) - 1.0) / 0.00437


def erb_filterbank(sample_rate: float, fft_size: int, n_bands: int,
                   dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """ERB triangles (n_bands, F/2 + 1) with peaks from DC to Nyquist, never closer than a
    bin, and mirrored end edges: the bands sum to 1 at every bin."""
    bins = fft_size // 2 + 1
    if not 2 <= n_bands <= bins:
        raise ValueError(f"need 2 <= n_bands <= F/2 + 1 = {bins}, got {n_bands}")
    nyquist = sample_rate / 2
    b = torch.arange(n_bands, dtype=torch.float64)
    on_erb = _erb_rate_inv(b * float(_erb_rate(torch.tensor(nyquist, dtype=torch.float64)))
                           / (n_bands - 1))
    peaks = torch.maximum(b * sample_rate / fft_size, on_erb).clamp(max=nyquist)
    # erb_inv(erb(Nyquist)) may round a hair below Nyquist; the doc pins the last peak there.
    peaks[-1] = nyquist
    edges = torch.cat([-peaks[1:2], peaks, sample_rate - peaks[-2:-1]])
    return _triangles(edges, sample_rate, fft_size).to(dtype or torch.get_default_dtype())


def band_energies(power_spec: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """E[..., m, b] = sum_k W[b][k] P[..., m, k]."""
    return power_spec @ weights.to(power_spec).transpose(0, 1)


def log_compress(energies: torch.Tensor) -> torch.Tensor:
    """ln(E + 1e-6): silence maps to -13.8 instead of -inf."""
    return torch.log(energies + LOG_FLOOR)


def gains_to_bins(gains: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per-band gains (..., B) -> per-bin gains (..., F/2 + 1), G[k] = sum_b W[b][k] g[b]."""
    return gains @ weights.to(gains)


def deltas(features: torch.Tensor, pad_end: bool = True) -> torch.Tensor:
    """Regression deltas over +-2 frames along the frame axis of (..., M, D). Frames before the
    first copy the first. pad_end=True copies the last frame past the end (offline: M deltas);
    pad_end=False returns what a stream has emitted by frame M - 1: deltas of frames
    0 .. M - 3, which need no future beyond the input."""
    count = features.shape[-2]
    if count == 0:
        return features
    first = features[..., :1, :].expand(features.shape[:-2] + (2, features.shape[-1]))
    parts = [first, features]
    if pad_end:
        parts.append(features[..., -1:, :].expand_as(first))
    p = torch.cat(parts, dim=-2)                  # p[i] = c[i - 2]
    out = p.shape[-2] - 4
    if out <= 0:
        return features[..., :0, :]

    def c(shift):  # c_{m + shift} for m = 0 .. out - 1
        return p[..., 2 + shift:2 + shift + out, :]
    return (c(1) - c(-1) + 2.0 * (c(2) - c(-2))) / 10.0


def running_normalise(x: torch.Tensor, dt: Union[float, torch.Tensor], tau: float,
                      eps: float) -> torch.Tensor:
    """The running normaliser over the first axis of x (T, ...), every other element on its
    own; dt is the time step of each input (a number or (T,)). NaN/inf inputs are gaps: they
    output 0 and leave the state alone, while the time since the last finite value grows."""
    steps = x.shape[0]
    if steps == 0:
        return x.clone()
    dts = torch.as_tensor(dt, dtype=torch.float64).expand(steps).tolist()
    mean = torch.zeros_like(x[0])
    var = torch.zeros_like(x[0])
    elapsed = torch.zeros_like(x[0])      # per element: gaps are per feature
    seen = torch.zeros_like(x[0], dtype=torch.bool)
    out = []
    for t in range(steps):
        elapsed = elapsed + dts[t]
        finite = torch.isfinite(x[t])
        value = torch.where(finite, x[t], torch.zeros_like(x[t]))
        a = torch.exp(-elapsed / tau)
        delta = value - mean
        first = finite & ~seen
        later = finite & seen
        mean = torch.where(first, value, torch.where(later, mean + (1 - a) * delta, mean))
        var = torch.where(first, torch.zeros_like(var),
                          torch.where(later, a * (var + (1 - a) * delta * delta), var))
        y = (value - mean) / torch.sqrt(var + eps)
        out.append(torch.where(finite, y, torch.zeros_like(y)))
        elapsed = torch.where(finite, torch.zeros_like(elapsed), elapsed)
        seen = seen | finite
    return torch.stack(out)


def log_mel(audio: torch.Tensor, sample_rate: float, window_samples: int, hop_samples: int,
            n_bands: int) -> torch.Tensor:
    """The `log_mel` front-end: hann, F = next power of two >= N, mel 0 .. sr/2, ln(E + 1e-6);
    (..., T) -> (..., T // hop, n_bands)."""
    fft_size = 1 << (window_samples - 1).bit_length()
    window = make_window("hann", window_samples, dtype=audio.dtype, device=audio.device)
    spec = stft(audio, window, hop_samples, fft_size)
    weights = mel_filterbank(sample_rate, fft_size, n_bands, dtype=torch.float64)
    return log_compress(band_energies(power(spec), weights))


def erb_bands(audio: torch.Tensor, sample_rate: float, window_samples: int, hop_samples: int,
              n_bands: int) -> torch.Tensor:
    """The `stft_bands` front-end: vorbis, F = N, ERB bands, ln(E + 1e-6);
    (..., T) -> (..., T // hop, n_bands)."""
    window = make_window("vorbis", window_samples, dtype=audio.dtype, device=audio.device)
    spec = stft(audio, window, hop_samples, window_samples)
    weights = erb_filterbank(sample_rate, window_samples, n_bands, dtype=torch.float64)
    return log_compress(band_energies(power(spec), weights))
