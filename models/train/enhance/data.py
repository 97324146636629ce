"""Training data for the speech enhancer: shards -> 48 kHz clean/noisy pairs, on any device.

A whole batch is made at once with tensor operations on the training device (no per-row loop
over samples). Per batch row:
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
  5. noise: 1 or 2 of TRAIN_NOISE_TYPES (batched generators of noise.py, which refuse the
     held-out types); babble is made of other training utterances;
  6. band-limited input with probability 0.25: speech, target and noise low-passed at the
     Nyquist of an input rate of INPUT_RATES (a stream of that rate resampled to 48 kHz, as
     the engine runs 16 kHz input), before mixing;
  7. mixing at an SNR uniform in -5..20 dB (against the reverberant, band-limited speech);
  8. a random level: the mixture's RMS uniform in -45..-10 dBFS, target scaled the same.
Per-row choices come from one seeded CPU generator; bulk samples from a generator on the
device seeded from it.
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

from enhance.noise import (TRAIN_NOISE_TYPES, SpeechPool, batch_noise,  # noqa: E402
                           batch_rirs, make_noise, mix_at_snr)
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
BAND_LIMIT_PROBABILITY = 0.25
INPUT_RATES = (8000, 16000, 16000, 16000, 22050, 32000)   # drawn uniformly: 16 kHz half the time


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
                  generator: torch.Generator, probability: float = HIGH_BAND_PROBABILITY,
                  sample_generator: Optional[torch.Generator] = None) -> torch.Tensor:
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
    if sample_generator is not None:
        noise = torch.randn(b, t, generator=sample_generator, device=sample_generator.device
                            ).to(device)
    else:
        noise = torch.randn(b, t, generator=generator).to(device)
    band = torch.fft.irfft(torch.fft.rfft(noise) * ramp * tilt, n=t)
    band = band / band.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-12)
    high = band * envelope
    top_rms = top.pow(2).mean(-1, keepdim=True).sqrt()
    high_rms = high.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-12)
    high = high * (top_rms / high_rms) * torch.pow(10.0, -level_db / 20.0)[:, None]
    return clean + high * use[:, None].float()


def band_limit_masks(count: int, num_samples: int, generator: torch.Generator, device,
                     rates: Sequence[int] = INPUT_RATES) -> torch.Tensor:
    """(count, bins) rfft-bin gains of a random input rate of `rates`: 1 up to 0.85-0.97 of its
    Nyquist, a raised-cosine roll-off to 0 at the Nyquist, 0 above (an input resampled to
    48 kHz, as the engine runs a stream of that rate)."""
    choice = torch.randint(0, len(rates), (count,), generator=generator)
    nyquist = torch.tensor([rates[int(i)] / 2.0 for i in choice], dtype=torch.float32)[:, None]
    edge = _uniform(generator, 0.85, 0.97, size=(count, 1)).float() * nyquist
    freqs = torch.fft.rfftfreq(num_samples, d=1.0 / TARGET_RATE)[None, :]
    ramp = ((freqs - edge) / (nyquist - edge)).clamp(0.0, 1.0)
    return (0.5 + 0.5 * torch.cos(math.pi * ramp)).to(device)


def _filter_rows(audio: torch.Tensor, rows: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """audio (B, T) with rows `rows` multiplied by `gains` (len(rows), bins) in the rfft domain."""
    out = audio.clone()
    out[rows] = torch.fft.irfft(torch.fft.rfft(audio[rows]) * gains, n=audio.shape[-1])
    return out


class BatchMaker:
    """Seeded noisy/clean batches at 48 kHz on `device`, made a whole batch at a time.

    Every per-row choice (utterance, crop, noise types and their parameters, SNR, level, ...)
    comes from one CPU generator seeded by `seed`; the bulk random samples (noise, RIR tails,
    high-band excitation) from a generator on `device` seeded from it. A seed rebuilds a run on
    the same kind of device."""

    def __init__(self, utterances: List[Tuple[torch.Tensor, int]], device, seed: int,
                 clip_samples: int = CLIP_SAMPLES,
                 band_limit_probability: float = BAND_LIMIT_PROBABILITY):
        if clip_samples % 960:
            raise ValueError("clip_samples must be a multiple of 960")
        self.device = torch.device(device)
        self.clip = clip_samples
        self.band_limit_probability = band_limit_probability
        self.generator = torch.Generator().manual_seed(seed)
        self.sample_generator = torch.Generator(device=self.device)
        self.sample_generator.manual_seed(int(torch.randint(0, 2 ** 62, (),
                                                            generator=self.generator)))
        # Speech store: per source rate, all utterances of that rate in one tensor on the device.
        self.rates = [int(r) for _, r in utterances]
        self.lengths = torch.tensor([a.shape[0] for a, _ in utterances], dtype=torch.long)
        self.store: Dict[int, torch.Tensor] = {}
        self.offsets = torch.zeros(len(utterances), dtype=torch.long)
        for rate in sorted(set(self.rates)):
            members = [i for i, r in enumerate(self.rates) if r == rate]
            lengths = self.lengths[members]
            self.offsets[members] = torch.cumsum(lengths, 0) - lengths
            self.store[rate] = torch.cat([utterances[i][0].float() for i in members]
                                         ).to(self.device)
        pool_gen = torch.Generator().manual_seed(seed + 1)
        picks = torch.randperm(len(utterances), generator=pool_gen)[:BABBLE_POOL].tolist()
        self.babble_pool = SpeechPool([resample_whole(utterances[i][0], utterances[i][1])
                                       for i in picks], self.device)

    def clean_batch(self, batch: int) -> Tuple[torch.Tensor, List[int]]:
        """(batch, clip) speech at 48 kHz and each row's source rate. Each row is a crop of
        clip + 2 margins at the source rate (a shorter utterance at a random place, zeros
        around it), resampled, margins dropped."""
        picks = torch.randint(0, len(self.rates), (batch,), generator=self.generator)
        where = torch.rand(batch, generator=self.generator, dtype=torch.float64)
        rates = [self.rates[int(k)] for k in picks]
        out = torch.empty(batch, self.clip, dtype=torch.float32, device=self.device)
        for rate in sorted(set(rates)):
            rows = [i for i, r in enumerate(rates) if r == rate]
            n = source_length(self.clip, rate)
            m = source_length(MARGIN_SAMPLES, rate)
            k = picks[rows]
            length = self.lengths[k]
            # shift >= 0: crop start inside a long utterance; shift < 0: a short utterance
            # placed -shift samples into the crop.
            span = (length - n).abs() + 1
            shift = (where[rows] * span.double()).long().clamp(max=span - 1)
            shift = torch.where(length >= n, shift, -shift)
            j = torch.arange(n + 2 * m, device=self.device)[None, :] - m       # crop position
            position = j + shift.to(self.device)[:, None]
            valid = (j >= 0) & (j < n) & (position >= 0) & \
                (position < length.to(self.device)[:, None])
            index = self.offsets[k].to(self.device)[:, None] + \
                torch.minimum(position.clamp(min=0), length.to(self.device)[:, None] - 1)
            crops = self.store[rate][index] * valid
            up = resample_to_48k(crops, rate)[:, MARGIN_SAMPLES:MARGIN_SAMPLES + self.clip]
            out[torch.tensor(rows, device=self.device)] = up
        return out, rates

    def noise_batch(self, batch: int) -> torch.Tensor:
        """(batch, clip) noise of unit RMS per row: one training type, or two with p = 0.5 (the
        second at weight 0.3-1)."""
        count = len(TRAIN_NOISE_TYPES)
        first = torch.randint(0, count, (batch,), generator=self.generator)
        second = torch.randint(0, count, (batch,), generator=self.generator)
        has_second = torch.rand(batch, generator=self.generator) < SECOND_NOISE_PROBABILITY
        weight = _uniform(self.generator, 0.3, 1.0, size=(batch,)).float()
        total = torch.zeros(batch, self.clip, dtype=torch.float32, device=self.device)
        for j, kind in enumerate(TRAIN_NOISE_TYPES):
            rows = torch.cat([torch.nonzero(first == j)[:, 0],
                              torch.nonzero(has_second & (second == j))[:, 0]])
            if rows.numel() == 0:
                continue
            weights = torch.cat([torch.ones(int((first == j).sum())),
                                 weight[has_second & (second == j)]])
            noise = batch_noise(kind, rows.numel(), self.clip, TARGET_RATE, self.generator,
                                self.device, self.sample_generator, speech=self.babble_pool)
            total.index_add_(0, rows.to(self.device), noise * weights.to(self.device)[:, None])
        return total / total.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-12)

    def batch(self, batch: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(noisy, target), each (batch, clip) float32 on the device."""
        clean, rates = self.clean_batch(batch)
        clean = add_high_band(clean, rates, self.generator, sample_generator=self.sample_generator)
        speech, target = clean, clean
        reverb = torch.nonzero(torch.rand(batch, generator=self.generator)
                               < REVERB_PROBABILITY)[:, 0]
        if reverb.numel():
            rirs = batch_rirs(reverb.numel(), TARGET_RATE, self.generator, self.device,
                              self.sample_generator, RT60_RANGE_S)
            early = int(EARLY_REFLECTIONS_S * TARGET_RATE)
            rows = reverb.to(self.device)
            size = 1 << (self.clip + rirs.shape[-1] - 2).bit_length()
            spec = torch.fft.rfft(clean[rows], n=size)
            speech, target = clean.clone(), clean.clone()
            speech[rows] = torch.fft.irfft(spec * torch.fft.rfft(rirs, n=size),
                                           n=size)[:, :self.clip]
            target[rows] = torch.fft.irfft(spec * torch.fft.rfft(rirs[:, :early], n=size),
                                           n=size)[:, :self.clip]
        noise = self.noise_batch(batch)
        limited = torch.nonzero(torch.rand(batch, generator=self.generator)
                                < self.band_limit_probability)[:, 0]
        if limited.numel():
            gains = band_limit_masks(limited.numel(), self.clip, self.generator, self.device)
            rows = limited.to(self.device)
            speech = _filter_rows(speech, rows, gains)
            target = _filter_rows(target, rows, gains)
            noise = _filter_rows(noise, rows, gains)
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
