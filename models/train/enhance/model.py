"""The speech enhancer: front-end, model and gain application, all in torch.

    noisy (48 kHz) -> STFT (vorbis 960, hop 480, F = 960, 481 bins)
                   -> 64 ERB band energies -> ln(E + 1e-6)         [M, 64]
                   -> SsmModel (causal Mamba-2 stack)                [M, 64]
                   -> sigmoid -> per-band gains -> per-bin gains (gains_to_bins)
                   -> gains * complex STFT -> ISTFT (overlap-add)   -> enhanced

This is exactly what the C++ engine runs for a model file whose frontend is FRONTEND (see
docs/features.md). The output lags the input by N - H = 480 samples (10 ms): sample t of the
output is input sample t - 480. Training compares it with the clean speech delayed by as much
(`delay`).

Training runs batches through the reference SsmModel.forward itself (its Mamba-2 layers take
leading batch dimensions), so the maths trained is the maths exported.
"""
import os
import sys
from typing import Dict, Optional

import torch
import torch.nn.functional as F

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from features import (band_energies, erb_filterbank, gains_to_bins, istft,  # noqa: E402
                      log_compress, make_window, power, stft)
from ssm_model import SsmModel  # noqa: E402

SAMPLE_RATE = 48000
WINDOW = 960
HOP = 480
FFT_SIZE = 960
N_BANDS = 64
LATENCY = WINDOW - HOP   # samples

FRONTEND: Dict = {"type": "stft_bands", "sample_rate_hz": SAMPLE_RATE, "window_samples": WINDOW,
                  "hop_samples": HOP, "n_bands": N_BANDS, "window": "vorbis",
                  "gain": "sigmoid"}

ARCHITECTURE: Dict = {
    "input_dim": N_BANDS, "d_model": 128, "output_dim": N_BANDS, "norm_eps": 1e-5,
    "layers": [{"type": "mamba2", "d_state": 32, "head_dim": 32, "expand": 2, "d_conv": 4,
                "n_groups": 1} for _ in range(4)],
}

# Initial head bias: sigmoid(2) = 0.88, so an untrained model passes the input almost as is.
HEAD_BIAS_INIT = 2.0


def build_model(architecture: Optional[Dict] = None, seed: int = 0) -> SsmModel:
    torch.manual_seed(seed)
    model = SsmModel(dict(architecture or ARCHITECTURE))
    with torch.no_grad():
        model.head.weight.mul_(0.1)
        model.head.bias.fill_(HEAD_BIAS_INIT)
    return model


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class FrontEnd:
    """Window and ERB weights, cached per device and dtype."""

    def __init__(self):
        self._cache = {}

    def get(self, device, dtype=torch.float32):
        key = (str(device), dtype)
        if key not in self._cache:
            window = make_window("vorbis", WINDOW, dtype=dtype, device=device)
            weights = erb_filterbank(SAMPLE_RATE, FFT_SIZE, N_BANDS, dtype=torch.float64)
            self._cache[key] = (window, weights.to(dtype=dtype, device=device))
        return self._cache[key]


FRONT = FrontEnd()


def features_and_spectrum(audio: torch.Tensor):
    """(B, T) 48 kHz audio -> (log band energies (B, M, 64), complex STFT (B, M, 481))."""
    window, weights = FRONT.get(audio.device, audio.dtype)
    spec = stft(audio, window, HOP, FFT_SIZE)
    return log_compress(band_energies(power(spec), weights)), spec


# --- batched forward ------------------------------------------------------------------------


def batched_forward(model: SsmModel, x: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """The reference SsmModel.forward from the initial state over a batch:
    (B, T, input_dim) -> (B, T, output_dim)."""
    return model(x, chunk=chunk)[0]


# --- the whole chain ----------------------------------------------------------------------------


def band_gains(model: SsmModel, features: torch.Tensor) -> torch.Tensor:
    """(B, M, 64) log band energies -> (B, M, 64) gains in (0, 1)."""
    return torch.sigmoid(batched_forward(model, features))


def enhance(model: SsmModel, noisy: torch.Tensor, return_gains: bool = False):
    """noisy 48 kHz audio (T,) or (B, T) -> enhanced (same shape), delayed by LATENCY samples
    like the engine's output stream."""
    squeeze = noisy.dim() == 1
    if squeeze:
        noisy = noisy[None]
    feats, spec = features_and_spectrum(noisy)
    gains = band_gains(model, feats)
    window, weights = FRONT.get(noisy.device, noisy.dtype)
    out = istft(spec * gains_to_bins(gains, weights), window, HOP, FFT_SIZE, noisy.shape[-1])
    if squeeze:
        out, gains = out[0], gains[0]
    return (out, gains) if return_gains else out


def delay(audio: torch.Tensor, samples: int = LATENCY) -> torch.Tensor:
    """Audio delayed by `samples` (zeros in front), same length: the reference for enhance()."""
    return F.pad(audio, (samples, 0))[..., :audio.shape[-1]]


# --- losses -------------------------------------------------------------------------------------


def si_sdr_db(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-row SI-SDR in dB of (B, T) tensors."""
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    reference = reference - reference.mean(dim=-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / \
        (reference.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * reference
    noise = estimate - target
    return 10.0 * torch.log10((target.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


STFT_RESOLUTIONS = ((480, 120), (960, 240), (1920, 480))   # (n_fft, hop) at 48 kHz
MAG_EXPONENT = 0.3


def compressed_spectral_loss(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean over resolutions of L1(|S_est|^0.3, |S_ref|^0.3) (plus the same on the complex
    compressed spectra), both signals scaled by the reference's RMS so the loss is level-free."""
    scale = reference.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-5)
    estimate, reference = estimate / scale, reference / scale
    total = estimate.new_zeros(())
    for n_fft, hop in STFT_RESOLUTIONS:
        window = torch.hann_window(n_fft, device=estimate.device, dtype=estimate.dtype)
        specs = [torch.stft(s, n_fft, hop, window=window, return_complex=True, center=True)
                 for s in (estimate, reference)]
        mags = [(s.real.pow(2) + s.imag.pow(2) + 1e-10).pow(0.5 * MAG_EXPONENT) for s in specs]
        phase = [s / (s.abs() + 1e-10) for s in specs]
        total = total + (mags[0] - mags[1]).abs().mean()
        total = total + 0.5 * (mags[0] * phase[0] - mags[1] * phase[1]).abs().mean()
    return total / len(STFT_RESOLUTIONS)


SISDR_WEIGHT = 0.04


def enhancement_loss(estimate: torch.Tensor, reference: torch.Tensor,
                     sisdr_weight: float = SISDR_WEIGHT):
    """(total, spectral, si_sdr dB mean): spectral + sisdr_weight * (-SI-SDR)."""
    spectral = compressed_spectral_loss(estimate, reference)
    sisdr = si_sdr_db(estimate, reference).mean()
    return spectral - sisdr_weight * sisdr, spectral, sisdr


if __name__ == "__main__":
    m = build_model()
    print("parameters", parameter_count(m))
    noisy = torch.randn(2, 48000) * 0.05
    out = enhance(m, noisy)
    print("enhance", tuple(out.shape), float(out.abs().max()))
    print("latency", LATENCY, "samples =", 1000.0 * LATENCY / SAMPLE_RATE, "ms")
