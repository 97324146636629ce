"""Training data for the speech enhancer: shards -> 48 kHz clean/noisy pairs, on any device.

Per batch row (all random choices from one seeded CPU generator, so a seed rebuilds the run):
  1. a random training utterance (TTS at 8, 16 or 22.05 kHz); a crop of CLIP seconds, or the
     whole utterance at a random place in the clip when it is shorter;
  2. band-limited resampling to 48 kHz in the FFT domain (`resample_to_48k`), with a margin
     around the crop so the transform's circular wrap stays out of the clip;
  3. high-band augmentation (`add_high_band`): TTS speech has nothing above its Nyquist, real
     48 kHz speech has; noise-excited content above the source Nyquist, following the envelope
     of the source's top octave at 10-30 dB below it, is added to the clean speech, so the
     target holds high-band energy the enhancer must keep;
  4. reverberation with probability 0.3 (synthetic RIR, rt60 0.1-0.8 s): the noisy input gets
     the full reverberant speech, the target its direct path and first 50 ms;
  5. noise: 1 or 2 of TRAIN_NOISE_TYPES, at an SNR uniform in -5..20 dB (against the
     reverberant speech); babble is made of other training utterances;
  6. a random level: the mixture's RMS uniform in -45..-10 dBFS, target scaled the same.
"""
import glob
import math
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from enhance.noise import (TRAIN_NOISE_TYPES, apply_rir, make_noise,  # noqa: E402
                           mix_at_snr, synthetic_rir)
from speech.shard import read_shard  # noqa: E402

TARGET_RATE = 48000
CLIP_SAMPLES = 120000          # 2.5 s at 48 kHz; a multiple of 960 (and of 320 for 22.05 kHz)
MARGIN_SAMPLES = 4800          # 0.1 s at 48 kHz each side of a crop, dropped after resampling
SNR_RANGE_DB = (-5.0, 20.0)
LEVEL_RANGE_DBFS = (-45.0, -10.0)
REVERB_PROBABILITY = 0.3
RT60_RANGE_S = (0.1, 0.8)
EARLY_REFLECTIONS_S = 0.05
HIGH_BAND_PROBABILITY = 0.9
HIGH_BAND_LEVEL_DB = (10.0, 30.0)   # below the source's top octave
SECOND_NOISE_PROBABILITY = 0.5
BABBLE_POOL = 64


def load_utterances(pattern: str) -> List[Tuple[torch.Tensor, int]]:
    """All utterances of the shards matching `pattern`: [(float32 audio, sample_rate)]."""
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"no shard matches {pattern!r}")
    if any(os.path.basename(p).startswith("eval") for p in paths):
        raise ValueError("evaluation shards are held out of training")
    out = []
    for path in paths:
        for u in read_shard(path):
            out.append((torch.from_numpy(u["audio"]).float(), int(u["sample_rate"])))
    return out


def source_length(samples_48k: int, rate: int) -> int:
    n = samples_48k * rate
    if n % TARGET_RATE:
        raise ValueError(f"{samples_48k} samples at 48 kHz are no whole number at {rate} Hz")
    return n // TARGET_RATE


def resample_to_48k(audio: torch.Tensor, rate: int) -> torch.Tensor:
    """(..., n) at `rate` -> (..., n * 48000 / rate), band-limited (FFT zero padding). n must
    give a whole number of output samples. The source's Nyquist bin is dropped."""
    n = audio.shape[-1]
    if rate == TARGET_RATE:
        return audio
    if (n * TARGET_RATE) % rate:
        raise ValueError(f"{n} samples at {rate} Hz give no whole number at 48 kHz")
    n_out = n * TARGET_RATE // rate
    spec = torch.fft.rfft(audio.to(torch.float32))
    if n % 2 == 0:
        spec = spec[..., :-1]
    spec = F.pad(spec, (0, n_out // 2 + 1 - spec.shape[-1]))
    return torch.fft.irfft(spec, n=n_out) * (n_out / n)


def resample_whole(audio: torch.Tensor, rate: int) -> torch.Tensor:
    """A whole utterance at 48 kHz: padded with zeros to a resamplable length first."""
    block = rate // math.gcd(rate, TARGET_RATE)
    pad = (-audio.shape[-1]) % block
    return resample_to_48k(F.pad(audio, (0, pad)), rate)


def _uniform(generator: torch.Generator, low: float, high: float, size=()) -> torch.Tensor:
    return low + (high - low) * torch.rand(size, generator=generator, dtype=torch.float64)


def add_high_band(clean: torch.Tensor, source_rates: Sequence[int],
                  generator: torch.Generator, probability: float = HIGH_BAND_PROBABILITY
                  ) -> torch.Tensor:
    """clean (B, T) at 48 kHz, each row band-limited to its source's Nyquist -> clean plus
    noise-excited content from that Nyquist up, with the time envelope of the source's top
    octave (10 ms smoothing), a random spectral tilt and a level 10-30 dB below that octave."""
    b, t = clean.shape
    device = clean.device
    freqs = torch.fft.rfftfreq(t, d=1.0 / TARGET_RATE).to(device)
    nyq = torch.tensor([r / 2.0 for r in source_rates], dtype=torch.float32, device=device)[:, None]
    use = (torch.rand(b, generator=generator) < probability).to(device)
    level_db = _uniform(generator, *HIGH_BAND_LEVEL_DB, size=(b,)).float().to(device)
    slope = _uniform(generator, 1.0, 3.0, size=(b, 1)).float().to(device)  # power ~ f^-slope
    top_mask = ((freqs >= nyq / 2) & (freqs < nyq)).float()
    spec = torch.fft.rfft(clean)
    top = torch.fft.irfft(spec * top_mask, n=t)
    envelope = F.avg_pool1d(top.pow(2)[:, None], 480, stride=1, padding=240,
                            count_include_pad=True)[:, 0, :t].clamp(min=0).sqrt()
    ramp = ((freqs - 0.9 * nyq) / (0.1 * nyq)).clamp(0.0, 1.0)
    ramp = 0.5 - 0.5 * torch.cos(math.pi * ramp)                  # raised-cosine onset
    tilt = (freqs.clamp(min=1.0) / nyq).clamp(min=1.0).pow(-slope / 2.0)
    noise = torch.randn(b, t, generator=generator).to(device)
    band = torch.fft.irfft(torch.fft.rfft(noise) * ramp * tilt, n=t)
    band = band / band.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-12)
    high = band * envelope
    top_rms = top.pow(2).mean(-1, keepdim=True).sqrt()
    high_rms = high.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-12)
    high = high * (top_rms / high_rms) * torch.pow(10.0, -level_db / 20.0)[:, None]
    return clean + high * use[:, None].float()


class BatchMaker:
    """Seeded noisy/clean batches at 48 kHz on `device`."""

    def __init__(self, utterances: List[Tuple[torch.Tensor, int]], device, seed: int,
                 clip_samples: int = CLIP_SAMPLES):
        if clip_samples % 960:
            raise ValueError("clip_samples must be a multiple of 960")
        self.utterances = utterances
        self.device = torch.device(device)
        self.clip = clip_samples
        self.generator = torch.Generator().manual_seed(seed)
        pool_gen = torch.Generator().manual_seed(seed + 1)
        picks = torch.randperm(len(utterances), generator=pool_gen)[:BABBLE_POOL].tolist()
        self.babble_speech = [resample_whole(utterances[i][0], utterances[i][1]).to(self.device)
                              for i in picks]

    def _randint(self, high: int) -> int:
        return int(torch.randint(0, max(1, high), (), generator=self.generator))

    def _crop(self, audio: torch.Tensor, rate: int) -> torch.Tensor:
        """A crop of clip + 2 margins at the source rate (zeros around a short utterance)."""
        n = source_length(self.clip, rate)
        m = source_length(MARGIN_SAMPLES, rate)
        if audio.shape[0] >= n:
            start = self._randint(audio.shape[0] - n + 1)
            core = audio[start:start + n]
        else:
            offset = self._randint(n - audio.shape[0] + 1)
            core = F.pad(audio, (offset, n - audio.shape[0] - offset))
        before = audio.new_zeros(m)
        after = audio.new_zeros(m)
        return torch.cat([before, core, after])

    def clean_batch(self, batch: int) -> Tuple[torch.Tensor, List[int]]:
        rows, rates = [None] * batch, []
        picks = torch.randint(0, len(self.utterances), (batch,), generator=self.generator)
        crops: Dict[int, List[Tuple[int, torch.Tensor]]] = {}
        for i, k in enumerate(picks.tolist()):
            audio, rate = self.utterances[k]
            rates.append(rate)
            crops.setdefault(rate, []).append((i, self._crop(audio, rate)))
        for rate, items in crops.items():
            stacked = torch.stack([c for _, c in items]).to(self.device)
            up = resample_to_48k(stacked, rate)[:, MARGIN_SAMPLES:MARGIN_SAMPLES + self.clip]
            for (i, _), row in zip(items, up):
                rows[i] = row
        return torch.stack(rows), rates

    def noise_row(self) -> torch.Tensor:
        kinds = [TRAIN_NOISE_TYPES[self._randint(len(TRAIN_NOISE_TYPES))]]
        if float(torch.rand((), generator=self.generator)) < SECOND_NOISE_PROBABILITY:
            kinds.append(TRAIN_NOISE_TYPES[self._randint(len(TRAIN_NOISE_TYPES))])
        total = None
        for j, kind in enumerate(kinds):
            n = make_noise(kind, self.clip, TARGET_RATE, self.generator, self.device,
                           speech=self.babble_speech)
            weight = 1.0 if j == 0 else float(_uniform(self.generator, 0.3, 1.0))
            total = n * weight if total is None else total + n * weight
        return total / total.pow(2).mean().sqrt().clamp(min=1e-12)

    def batch(self, batch: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(noisy, target), each (batch, clip) float32 on the device."""
        clean, rates = self.clean_batch(batch)
        clean = add_high_band(clean, rates, self.generator)
        speech, target = clean.clone(), clean.clone()
        for i in range(batch):
            if float(torch.rand((), generator=self.generator)) < REVERB_PROBABILITY:
                rt60 = float(_uniform(self.generator, *RT60_RANGE_S))
                rir = synthetic_rir(TARGET_RATE, rt60, self.generator, self.device)
                speech[i] = apply_rir(clean[i], rir)
                early = int(EARLY_REFLECTIONS_S * TARGET_RATE)
                target[i] = apply_rir(clean[i], rir[:early])
        noise = torch.stack([self.noise_row() for _ in range(batch)])
        snr = _uniform(self.generator, *SNR_RANGE_DB, size=(batch,)).float().to(self.device)
        noisy, _ = mix_at_snr(speech, noise, snr)
        level = _uniform(self.generator, *LEVEL_RANGE_DBFS, size=(batch, 1)).float()
        gain = torch.pow(10.0, level.to(self.device) / 20.0) / \
            noisy.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-12)
        peak = (noisy * gain).abs().amax(-1, keepdim=True)
        gain = gain * 0.99 / peak.clamp(min=0.99)   # keep peaks <= 0.99
        return noisy * gain, target * gain


def heldout_clips(path: str, count: int, kinds: Sequence[str], snr_range=(0.0, 10.0),
                  seed: int = 1234, max_seconds: float = 4.0, device="cpu",
                  babble_speech: Optional[Sequence[torch.Tensor]] = None):
    """For reporting only: `count` utterances of an evaluation shard at 48 kHz, each mixed with
    one noise of `kinds` (cycled) at an SNR uniform in snr_range. No high-band augmentation and
    no reverb: the clean reference is the resampled TTS speech itself.
    Returns [(noisy, clean, kind, snr_db)] of 1-D float32 tensors."""
    utterances = read_shard(path)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(utterances), generator=gen)[:count].tolist()
    clips = []
    for j, k in enumerate(order):
        u = utterances[k]
        rate = int(u["sample_rate"])
        audio = torch.from_numpy(u["audio"]).float()[:int(max_seconds * rate)]
        clean = resample_whole(audio, rate)
        clean = F.pad(clean, (0, (-clean.shape[0]) % 480))
        kind = kinds[j % len(kinds)]
        noise = make_noise(kind, clean.shape[0], TARGET_RATE, gen, device, speech=babble_speech)
        snr = float(_uniform(gen, *snr_range))
        noisy, _ = mix_at_snr(clean, noise, snr)
        gain = 10 ** (-25.0 / 20.0) / float(noisy.pow(2).mean().sqrt())
        gain = min(gain, 0.99 / float(noisy.abs().max()))
        clips.append((noisy * gain, clean * gain, kind, snr))
    return clips
