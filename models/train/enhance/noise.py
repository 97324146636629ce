"""Synthesised noise and room reverberation for training and testing the speech enhancer.

Every noise is generated from a seeded torch.Generator at any sample rate and length, so a
training run or a test set can be rebuilt exactly without shipping noise recordings. Each
generator returns a 1-D float32 tensor of unit RMS on the requested device; the level is set
afterwards by mix_at_snr.

Random numbers are drawn on the generator's device (the CPU for a CPU generator) and the result
is moved to `device`, so a CPU generator with a given seed gives the same noise whether the
training runs on the CPU or a GPU. Written against the torch API shared by 1.13 and 2.x.

Two whole noise types are held out of training (HELDOUT_NOISE_TYPES): a test on them measures
how the enhancer generalises to noise it has never heard, not how well it memorised a family.
"""
import math
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch

TRAIN_NOISE_TYPES: Tuple[str, ...] = ("white", "pink", "brown", "hum", "babble", "fan")
HELDOUT_NOISE_TYPES: Tuple[str, ...] = ("tones", "clicks")

# Content below this is inaudible rumble; left in a 1/f^2 spectrum it would take most of the
# unit RMS while contributing nothing a listener (or the enhancer's band gains) would notice.
LOWEST_NOISE_HZ = 20.0

Device = Union[str, torch.device, None]


# --- Random draws on the generator's device --------------------------------------------------


def _draw_device(generator: Optional[torch.Generator], device: Device) -> torch.device:
    if generator is not None:
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


def _randn(shape, generator, device) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=_draw_device(generator, device),
                       dtype=torch.float32).to(device)


def _rand(shape, generator, device, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=_draw_device(generator, device),
                      dtype=dtype).to(device)


def _uniform(low: float, high: float, generator) -> float:
    """One Python float uniform in [low, high): for choices that shape the signal, not samples."""
    u = torch.rand((), generator=generator, device=_draw_device(generator, None),
                   dtype=torch.float64).item()
    return low + (high - low) * u


def _randint(low: int, high: int, generator) -> int:
    """One Python int uniform in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=generator,
                             device=_draw_device(generator, None)).item())


def _unit_rms(noise: torch.Tensor) -> torch.Tensor:
    rms = noise.pow(2).mean().sqrt()
    if not torch.isfinite(rms) or rms.item() <= 0.0:
        raise RuntimeError("generated noise is silent; is num_samples too small?")
    return (noise / rms).to(torch.float32)


def _check_size(num_samples: int, sample_rate: int) -> None:
    if num_samples < 1:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    if sample_rate < 1000:
        raise ValueError(f"sample rate {sample_rate} Hz is too low for audio noise")


# --- Spectrally shaped noise ------------------------------------------------------------------


def _shape_spectrum(white: torch.Tensor, sample_rate: int,
                    gain_of_hz: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Multiply the spectrum of `white` by gain_of_hz(bin frequencies) and transform back. The
    circular wrap this implies is harmless for stationary noise."""
    n = white.shape[-1]
    spectrum = torch.fft.rfft(white.to(torch.float64))
    hz = torch.fft.rfftfreq(n, d=1.0 / sample_rate, dtype=torch.float64, device=white.device)
    return torch.fft.irfft(spectrum * gain_of_hz(hz), n=n)


def _power_law(exponent: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Amplitude gain for a 1/f^exponent power spectrum, zero below LOWEST_NOISE_HZ."""
    def gain(hz: torch.Tensor) -> torch.Tensor:
        safe = hz.clamp(min=LOWEST_NOISE_HZ)
        return torch.where(hz >= LOWEST_NOISE_HZ, safe.pow(-exponent / 2.0),
                           torch.zeros_like(hz))
    return gain


def white(num_samples: int, sample_rate: int, generator: Optional[torch.Generator] = None,
          device: Device = None) -> torch.Tensor:
    """Gaussian white noise: flat spectrum, the classic stationary test case."""
    _check_size(num_samples, sample_rate)
    return _unit_rms(_randn(num_samples, generator, device))


def pink(num_samples: int, sample_rate: int, generator: Optional[torch.Generator] = None,
         device: Device = None) -> torch.Tensor:
    """Pink noise (power ~ 1/f, -3 dB per octave): equal energy per octave, close to the
    long-term spectrum of many everyday environments."""
    _check_size(num_samples, sample_rate)
    noise = _randn(num_samples, generator, device)
    return _unit_rms(_shape_spectrum(noise, sample_rate, _power_law(1.0)))


def brown(num_samples: int, sample_rate: int, generator: Optional[torch.Generator] = None,
          device: Device = None) -> torch.Tensor:
    """Brown noise (power ~ 1/f^2, -6 dB per octave): rumble-like (traffic, wind, engines)."""
    _check_size(num_samples, sample_rate)
    noise = _randn(num_samples, generator, device)
    return _unit_rms(_shape_spectrum(noise, sample_rate, _power_law(2.0)))


def fan(num_samples: int, sample_rate: int, generator: Optional[torch.Generator] = None,
        device: Device = None) -> torch.Tensor:
    """Fan or air-conditioning noise: coloured noise band-limited by a random smooth low-pass
    (and a gentle high-pass), with a slow random amplitude wobble and a weak blade-pass tone.

    Unlike white/pink/brown it is neither flat nor a pure power law, and it is not quite
    stationary, which is what trips up minima-tracking noise estimators.
    """
    _check_size(num_samples, sample_rate)
    nyquist = sample_rate / 2.0
    cutoff_hz = min(_uniform(400.0, 4000.0, generator), 0.8 * nyquist)
    highpass_hz = _uniform(30.0, 120.0, generator)
    slope = _uniform(0.0, 1.5, generator)       # power-law exponent within the pass band
    order = _uniform(2.0, 6.0, generator)       # steepness of the low-pass roll-off

    def gain(hz: torch.Tensor) -> torch.Tensor:
        lowpass = 1.0 / torch.sqrt(1.0 + (hz / cutoff_hz) ** (2.0 * order))
        highpass = (hz / highpass_hz) ** 2 / (1.0 + (hz / highpass_hz) ** 2)
        tilt = hz.clamp(min=LOWEST_NOISE_HZ).pow(-slope / 2.0)
        return lowpass * highpass * tilt

    noise = _shape_spectrum(_randn(num_samples, generator, device), sample_rate, gain)
    noise = noise / noise.pow(2).mean().sqrt()
    t = torch.arange(num_samples, dtype=torch.float64, device=noise.device) / sample_rate

    # Blade-pass tone: blades x rotation rate, tens to a few hundred Hz, well below the noise.
    blade_hz = _uniform(60.0, 300.0, generator)
    blade_level = _uniform(0.05, 0.3, generator)
    blade_phase = _uniform(0.0, 2.0 * math.pi, generator)
    noise = noise + blade_level * math.sqrt(2.0) * torch.sin(
        2.0 * math.pi * blade_hz * t + blade_phase)

    # Slow amplitude modulation (turbulence, rotation): two incommensurate slow sinusoids.
    modulation = torch.ones_like(t)
    for _ in range(2):
        rate_hz = _uniform(0.1, 2.0, generator)
        depth = _uniform(0.02, 0.15, generator)
        phase = _uniform(0.0, 2.0 * math.pi, generator)
        modulation = modulation + depth * torch.sin(2.0 * math.pi * rate_hz * t + phase)
    return _unit_rms(noise * modulation)


# --- Tonal and impulsive noise ----------------------------------------------------------------


def _slow_random_walk(num_samples: int, sample_rate: int, points_per_second: float,
                      generator, device) -> torch.Tensor:
    """A smooth zero-mean wander of unit standard deviation: a Gaussian random walk sampled at
    a few points per second, linearly interpolated to every sample."""
    point_count = max(2, int(math.ceil(num_samples / sample_rate * points_per_second)) + 2)
    steps = _randn(point_count, generator, device).to(torch.float64)
    walk = torch.cumsum(steps, dim=0)
    walk = walk - walk.mean()
    walk = walk / walk.std().clamp(min=1e-12)
    position = torch.linspace(0.0, point_count - 1.0, num_samples, dtype=torch.float64,
                              device=walk.device)
    left = position.floor().long().clamp(max=point_count - 2)
    fraction = position - left
    return walk[left] * (1.0 - fraction) + walk[left + 1] * fraction


def hum(num_samples: int, sample_rate: int, generator: Optional[torch.Generator] = None,
        device: Device = None) -> torch.Tensor:
    """Mains hum: a 50 or 60 Hz fundamental with a random set of harmonics (strong odd ones,
    as rectifiers and transformers make them) and a slight drift of the grid frequency."""
    _check_size(num_samples, sample_rate)
    mains_hz = 50.0 if _uniform(0.0, 1.0, generator) < 0.5 else 60.0
    drift = 0.002 * _uniform(0.2, 1.0, generator) * _slow_random_walk(
        num_samples, sample_rate, 2.0, generator, device)
    instantaneous_hz = mains_hz * (1.0 + drift)
    # Phase in float64: thousands of radians over a long clip would lose precision in float32.
    phase = 2.0 * math.pi * torch.cumsum(instantaneous_hz, dim=0) / sample_rate

    highest = min(40, int((sample_rate / 2.0 * 0.95) // (mains_hz * 1.01)))
    noise = torch.zeros(num_samples, dtype=torch.float64, device=phase.device)
    odd_emphasis = _uniform(0.0, 1.0, generator)
    for harmonic in range(1, highest + 1):
        if harmonic > 1 and _uniform(0.0, 1.0, generator) < 0.4:
            continue  # a random subset of the harmonics is present
        level = _uniform(0.3, 1.0, generator) / harmonic ** _uniform(0.5, 1.5, generator)
        if harmonic % 2 == 0:
            level *= 1.0 - 0.8 * odd_emphasis
        start = _uniform(0.0, 2.0 * math.pi, generator)
        noise = noise + level * torch.sin(harmonic * phase + start)
    return _unit_rms(noise)


def clicks(num_samples: int, sample_rate: int, generator: Optional[torch.Generator] = None,
           device: Device = None) -> torch.Tensor:
    """Impulsive noise: sparse loud clicks (a few to tens per second) over an optional bed of
    dense quiet crackle, like a worn record, a bad cable or keyboard taps.

    Each event is an impulse of random sign and heavy-tailed amplitude smeared by a short
    decaying noise burst, so clicks have a little colour instead of being single samples.
    Held out of training: nothing in the training set is impulsive.
    """
    _check_size(num_samples, sample_rate)
    click_rate_hz = _uniform(2.0, 30.0, generator)
    crackle_rate_hz = _uniform(50.0, 600.0, generator) if _uniform(0.0, 1.0, generator) < 0.6 \
        else 0.0

    def impulse_train(rate_hz: float, level: float) -> torch.Tensor:
        hits = _rand(num_samples, generator, device) < rate_hz / sample_rate
        # Heavy-tailed amplitudes (log-normal) with random signs.
        amplitude = torch.exp(0.8 * _randn(num_samples, generator, device))
        sign = 1.0 - 2.0 * (_rand(num_samples, generator, device) < 0.5).to(torch.float32)
        return hits.to(torch.float32) * amplitude * sign * level

    train = impulse_train(click_rate_hz, 1.0)
    if train.abs().sum().item() == 0.0:
        # A short clip may draw no click at all; noise must not be silent.
        position = _randint(0, num_samples - 1, generator)
        train[position] = 1.0
    if crackle_rate_hz > 0.0:
        train = train + impulse_train(crackle_rate_hz, _uniform(0.03, 0.15, generator))

    # One burst shape per clip: 0.2 to 3 ms of exponentially decaying noise.
    burst_seconds = _uniform(0.0002, 0.003, generator)
    burst_length = max(2, int(round(burst_seconds * sample_rate * 3.0)))
    time = torch.arange(burst_length, dtype=torch.float32, device=train.device)
    burst = _randn(burst_length, generator, device) * torch.exp(
        -time / (burst_seconds * sample_rate))
    burst[0] = burst[0].abs() + 1.0  # a sharp onset
    return _unit_rms(_fft_convolve(train, burst)[..., :num_samples])


def tones(num_samples: int, sample_rate: int, generator: Optional[torch.Generator] = None,
          device: Device = None) -> torch.Tensor:
    """Music-like interference: a sequence of notes and chords on the equal-tempered scale,
    each with harmonics, a fast attack and an exponential decay, overlapping in time.

    Harmonic and slowly varying like voiced speech, which is what makes music hard for an
    enhancer; held out of training so its test measures generalisation.
    """
    _check_size(num_samples, sample_rate)
    output_device = torch.device(device) if device is not None else torch.device("cpu")
    noise = torch.zeros(num_samples, dtype=torch.float64, device=output_device)
    nyquist = sample_rate / 2.0
    brightness = _uniform(0.8, 2.0, generator)   # harmonic roll-off exponent of this "instrument"
    onset = 0
    while onset < num_samples:
        chord_size = _randint(1, 4, generator)
        root = _randint(40, 80, generator)       # MIDI note: E2 .. G#5
        intervals = (0, 4, 7, 12) if _uniform(0.0, 1.0, generator) < 0.5 else (0, 3, 7, 12)
        duration = int(_uniform(0.1, 1.2, generator) * sample_rate)
        end = min(num_samples, onset + duration)
        span = end - onset
        t = torch.arange(span, dtype=torch.float64, device=output_device) / sample_rate
        attack = _uniform(0.002, 0.03, generator)
        decay = _uniform(0.1, 1.0, generator)
        envelope = torch.clamp(t / attack, max=1.0) * torch.exp(-t / decay)
        loudness = _uniform(0.3, 1.0, generator)
        for interval in intervals[:chord_size]:
            fundamental_hz = 440.0 * 2.0 ** ((root + interval - 69) / 12.0)
            harmonic_count = max(1, min(12, int(nyquist * 0.95 // fundamental_hz)))
            for harmonic in range(1, harmonic_count + 1):
                phase = _uniform(0.0, 2.0 * math.pi, generator)
                level = loudness / harmonic ** brightness
                noise[onset:end] += level * envelope * torch.sin(
                    2.0 * math.pi * fundamental_hz * harmonic * t + phase)
        # The next event starts before this one has died away, or after a short rest.
        onset += max(1, int(_uniform(0.08, 0.6, generator) * sample_rate))
    return _unit_rms(noise)


# --- Babble -----------------------------------------------------------------------------------


def babble(num_samples: int, sample_rate: int, generator: Optional[torch.Generator] = None,
           device: Device = None, speech: Optional[Sequence[torch.Tensor]] = None
           ) -> torch.Tensor:
    """Babble: the sum of 3 to 8 random talkers taken from `speech`, a list of 1-D speech
    waveforms at `sample_rate` supplied by the caller (this module synthesises no speech).

    Each talker starts at a random point of its waveform, loops if it is shorter than the clip,
    and is brought to unit RMS first so no single voice dominates. The caller should pass
    speech of speakers not in the clean targets, or the enhancer learns to suppress them.
    """
    _check_size(num_samples, sample_rate)
    if not speech:
        raise ValueError("babble needs a non-empty list of speech waveforms")
    output_device = torch.device(device) if device is not None else torch.device("cpu")
    talker_count = _randint(3, 8, generator)
    total = torch.zeros(num_samples, dtype=torch.float32, device=output_device)
    for _ in range(talker_count):
        waveform = speech[_randint(0, len(speech) - 1, generator)]
        waveform = torch.as_tensor(waveform).reshape(-1).to(device=output_device,
                                                              dtype=torch.float32)
        if waveform.numel() == 0:
            raise ValueError("babble got an empty speech waveform")
        start = _randint(0, waveform.numel() - 1, generator)
        repeats = -(-(start + num_samples) // waveform.numel())
        talker = waveform.repeat(repeats)[start:start + num_samples]
        rms = talker.pow(2).mean().sqrt()
        if rms.item() > 0.0:
            total = total + talker / rms
    return _unit_rms(total)


# --- Registry ---------------------------------------------------------------------------------

NOISE_GENERATORS: Dict[str, Callable[..., torch.Tensor]] = {
    "white": white, "pink": pink, "brown": brown, "hum": hum, "babble": babble,
    "fan": fan, "tones": tones, "clicks": clicks,
}


def make_noise(kind: str, num_samples: int, sample_rate: int,
               generator: Optional[torch.Generator] = None, device: Device = None,
               speech: Optional[Sequence[torch.Tensor]] = None) -> torch.Tensor:
    """The noise of type `kind` (a key of NOISE_GENERATORS); `speech` is used by babble only."""
    if kind not in NOISE_GENERATORS:
        raise ValueError(f"unknown noise type {kind!r}; known: {sorted(NOISE_GENERATORS)}")
    if kind == "babble":
        return babble(num_samples, sample_rate, generator, device, speech=speech)
    return NOISE_GENERATORS[kind](num_samples, sample_rate, generator, device)


# --- Batched training noise -------------------------------------------------------------------
#
# The same training noise types, many rows at once with a few tensor operations each, for
# making training batches on the GPU. The distributions are those of the per-clip generators
# above (same parameter ranges); the samples are not the same ones. Per-row parameters (cut-off,
# harmonic levels, talkers, ...) are drawn from `generator` (usually a CPU generator, so they
# cost no device synchronisation); bulk samples from `sample_generator`, a generator on the
# output device, when one is given (else from `generator`, then moved). Only TRAIN_NOISE_TYPES
# exist in batched form: the held-out types cannot reach a training batch through this path.


class SpeechPool:
    """Talker waveforms for batched babble, concatenated into one tensor on `device`."""

    def __init__(self, speech: Sequence[torch.Tensor], device: Device = None):
        waves = [torch.as_tensor(w).reshape(-1).to(torch.float32) for w in speech]
        if not waves:
            raise ValueError("babble needs a non-empty list of speech waveforms")
        if any(w.numel() == 0 for w in waves):
            raise ValueError("babble got an empty speech waveform")
        self.lengths = torch.tensor([w.numel() for w in waves], dtype=torch.long)
        self.offsets = torch.cumsum(self.lengths, 0) - self.lengths
        self.audio = torch.cat(waves).to(device)

    def __len__(self) -> int:
        return int(self.lengths.numel())


def _row_uniform(low: float, high: float, shape, generator) -> torch.Tensor:
    """Float64 uniform draws in [low, high) on the generator's device (parameters, not samples)."""
    return low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64,
                                           device=_draw_device(generator, None))


def _bulk_randn(shape, generator, sample_generator, device) -> torch.Tensor:
    if sample_generator is not None:
        return torch.randn(shape, generator=sample_generator, device=sample_generator.device,
                           dtype=torch.float32).to(device)
    return _randn(shape, generator, device)


def _unit_rms_rows(noise: torch.Tensor) -> torch.Tensor:
    rms = noise.pow(2).mean(dim=-1, keepdim=True).sqrt()
    return (noise / rms.clamp(min=1e-20)).to(torch.float32)


def _shape_rows(white: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Rows of white noise (R, T) filtered by gain (F,) or (R, F) over rfft bins."""
    n = white.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(white) * gain.to(torch.float32), n=n)


def _hz(num_samples: int, sample_rate: int, device) -> torch.Tensor:
    return torch.fft.rfftfreq(num_samples, d=1.0 / sample_rate, dtype=torch.float64,
                              device=device)


def _batch_fan(rows, num_samples, sample_rate, generator, device, sample_generator):
    nyquist = sample_rate / 2.0
    params = _row_uniform(0.0, 1.0, (rows, 13), generator).to(device)
    cutoff = (400.0 + 3600.0 * params[:, 0:1]).clamp(max=0.8 * nyquist)
    highpass = 30.0 + 90.0 * params[:, 1:2]
    slope = 1.5 * params[:, 2:3]
    order = 2.0 + 4.0 * params[:, 3:4]
    hz = _hz(num_samples, sample_rate, device)[None, :]
    lowpass = 1.0 / torch.sqrt(1.0 + (hz / cutoff) ** (2.0 * order))
    high = (hz / highpass) ** 2 / (1.0 + (hz / highpass) ** 2)
    tilt = hz.clamp(min=LOWEST_NOISE_HZ).pow(-slope / 2.0)
    noise = _shape_rows(_bulk_randn((rows, num_samples), generator, sample_generator, device),
                        lowpass * high * tilt)
    noise = _unit_rms_rows(noise).to(torch.float64)
    t = torch.arange(num_samples, dtype=torch.float64, device=device)[None, :] / sample_rate
    blade_hz = 60.0 + 240.0 * params[:, 4:5]
    blade_level = 0.05 + 0.25 * params[:, 5:6]
    blade_phase = 2.0 * math.pi * params[:, 6:7]
    noise = noise + blade_level * math.sqrt(2.0) * torch.sin(
        2.0 * math.pi * torch.remainder(blade_hz * t, 1.0) + blade_phase)
    modulation = torch.ones_like(noise)
    for j in (7, 10):
        rate_hz = 0.1 + 1.9 * params[:, j:j + 1]
        depth = 0.02 + 0.13 * params[:, j + 1:j + 2]
        phase = 2.0 * math.pi * params[:, j + 2:j + 3]
        modulation = modulation + depth * torch.sin(2.0 * math.pi * rate_hz * t + phase)
    return _unit_rms_rows(noise * modulation)


def _batch_hum(rows, num_samples, sample_rate, generator, device):
    params = _row_uniform(0.0, 1.0, (rows, 3), generator)
    mains = torch.where(params[:, 0] < 0.5, torch.full_like(params[:, 0], 50.0),
                        torch.full_like(params[:, 0], 60.0))
    drift_amount = 0.002 * (0.2 + 0.8 * params[:, 1])
    odd_emphasis = params[:, 2]
    # Slow random walk of the grid frequency: unit std, zero mean, 2 points per second.
    points = max(2, int(math.ceil(num_samples / sample_rate * 2.0)) + 2)
    walk = torch.cumsum(torch.randn((rows, points), generator=generator, dtype=torch.float32,
                                    device=_draw_device(generator, None)).double(), dim=1)
    walk = walk - walk.mean(dim=1, keepdim=True)
    walk = walk / walk.std(dim=1, keepdim=True).clamp(min=1e-12)
    walk = walk.to(device)
    position = torch.linspace(0.0, points - 1.0, num_samples, dtype=torch.float64, device=device)
    left = position.floor().long().clamp(max=points - 2)
    fraction = position - left
    walk = walk[:, left] * (1.0 - fraction) + walk[:, left + 1] * fraction
    instantaneous = mains.to(device)[:, None] * (1.0 + drift_amount.to(device)[:, None] * walk)
    phase = torch.remainder(2.0 * math.pi * torch.cumsum(instantaneous, dim=1) / sample_rate,
                            2.0 * math.pi)
    # Harmonics: the fundamental always, the others each with p = 0.6; level
    # U(0.3, 1) / h^U(0.5, 1.5), even ones lowered by the odd emphasis; random start phase.
    count = 40
    h = torch.arange(1, count + 1, dtype=torch.float64)
    highest = torch.clamp(torch.floor((sample_rate / 2.0 * 0.95) / (mains * 1.01)), max=count)
    present = (_row_uniform(0.0, 1.0, (rows, count), generator) >= 0.4) | (h == 1)
    present = present & (h[None, :] <= highest[:, None])
    level = _row_uniform(0.3, 1.0, (rows, count), generator) / \
        h.pow(_row_uniform(0.5, 1.5, (rows, count), generator))
    level = torch.where((h % 2 == 0)[None, :], level * (1.0 - 0.8 * odd_emphasis[:, None]), level)
    level = level * present
    start = _row_uniform(0.0, 2.0 * math.pi, (rows, count), generator)
    active = [k for k in range(count) if bool(present[:, k].any())]   # CPU-side: no sync
    level, start = level.to(device), start.to(device)
    noise = torch.zeros(rows, num_samples, dtype=torch.float64, device=device)
    for k in active:
        noise = noise + level[:, k:k + 1] * torch.sin((k + 1) * phase + start[:, k:k + 1])
    return _unit_rms_rows(noise)


def _batch_babble(rows, num_samples, sample_rate, generator, device, pool: SpeechPool):
    draw = _draw_device(generator, None)
    most = 8
    talkers = torch.randint(3, most + 1, (rows,), generator=generator, device=draw).cpu()
    which = torch.randint(0, len(pool), (rows, most), generator=generator, device=draw).cpu()
    lengths = pool.lengths[which]
    starts = (torch.rand((rows, most), generator=generator, dtype=torch.float64,
                         device=draw).cpu() * lengths).long()
    starts = torch.minimum(starts, lengths - 1)
    used = torch.arange(most)[None, :] < talkers[:, None]
    row_of = torch.arange(rows)[:, None].expand(rows, most)[used]
    lengths, starts, offsets = lengths[used], starts[used], pool.offsets[which][used]
    t = torch.arange(num_samples, device=pool.audio.device)[None, :]
    index = torch.remainder(starts.to(t.device)[:, None] + t, lengths.to(t.device)[:, None]) + \
        offsets.to(t.device)[:, None]
    voices = pool.audio[index].to(device)                         # (talkers, T), looped
    rms = voices.pow(2).mean(dim=-1, keepdim=True).sqrt()
    voices = torch.where(rms > 0, voices / rms.clamp(min=1e-20), torch.zeros_like(voices))
    total = torch.zeros(rows, num_samples, dtype=torch.float32, device=device)
    total.index_add_(0, row_of.to(device), voices)
    return _unit_rms_rows(total)


def batch_noise(kind: str, rows: int, num_samples: int, sample_rate: int,
                generator: Optional[torch.Generator] = None, device: Device = None,
                sample_generator: Optional[torch.Generator] = None,
                speech: Optional[Union[SpeechPool, Sequence[torch.Tensor]]] = None
                ) -> torch.Tensor:
    """`rows` independent clips of training noise `kind`: (rows, num_samples) float32, each row
    of unit RMS, on `device`. Babble takes `speech` (a SpeechPool, or a list of waveforms)."""
    if kind not in TRAIN_NOISE_TYPES:
        raise ValueError(f"{kind!r} has no batched generator: only training noise types "
                         f"{TRAIN_NOISE_TYPES} do (held out: {HELDOUT_NOISE_TYPES})")
    _check_size(num_samples, sample_rate)
    device = torch.device(device) if device is not None else _draw_device(generator, None)
    if kind == "white":
        return _unit_rms_rows(_bulk_randn((rows, num_samples), generator, sample_generator, device))
    if kind in ("pink", "brown"):
        gain = _power_law(1.0 if kind == "pink" else 2.0)(_hz(num_samples, sample_rate, device))
        white_rows = _bulk_randn((rows, num_samples), generator, sample_generator, device)
        return _unit_rms_rows(_shape_rows(white_rows, gain))
    if kind == "fan":
        return _batch_fan(rows, num_samples, sample_rate, generator, device, sample_generator)
    if kind == "hum":
        return _batch_hum(rows, num_samples, sample_rate, generator, device)
    pool = speech if isinstance(speech, SpeechPool) else SpeechPool(speech or [], device)
    return _batch_babble(rows, num_samples, sample_rate, generator, device, pool)


def batch_rirs(count: int, sample_rate: int, generator: Optional[torch.Generator] = None,
               device: Device = None, sample_generator: Optional[torch.Generator] = None,
               rt60_range: Tuple[float, float] = (0.1, 0.8)) -> torch.Tensor:
    """`count` synthetic RIRs as synthetic_rir makes them (rt60 uniform in rt60_range, gap 1-5 ms,
    direct-to-reverberant ratio 0-10 dB), zero-padded to a common length: (count, L) float32."""
    device = torch.device(device) if device is not None else _draw_device(generator, None)
    params = _row_uniform(0.0, 1.0, (count, 3), generator)
    rt60 = rt60_range[0] + (rt60_range[1] - rt60_range[0]) * params[:, 0]
    drr_db = 10.0 * params[:, 1]
    gap = torch.round((0.001 + 0.004 * params[:, 2]) * sample_rate).long().clamp(min=1)
    tail_length = torch.round(rt60 * sample_rate).long().clamp(min=1)
    length = int((gap + tail_length).max())
    rt60, drr_db = rt60.to(device)[:, None], drr_db.to(device)[:, None]
    gap, tail_length = gap.to(device)[:, None], tail_length.to(device)[:, None]
    lag = torch.arange(length, device=device)[None, :] - gap          # samples into the tail
    inside = (lag >= 0) & (lag < tail_length)
    decay = torch.exp(-3.0 * math.log(10.0) * lag.clamp(min=0).double() / sample_rate / rt60)
    tail = _bulk_randn((count, length), generator, sample_generator, device).double() * decay
    tail = tail * inside
    tail = (tail - tail.sum(dim=1, keepdim=True) / tail_length) * inside
    energy = tail.pow(2).sum(dim=1, keepdim=True).clamp(min=torch.finfo(torch.float32).tiny)
    rir = tail * torch.sqrt(torch.pow(10.0, -drr_db / 10.0) / energy)
    rir[:, 0] = 1.0
    return rir.to(torch.float32)


# --- Mixing and reverberation -----------------------------------------------------------------


def mix_at_snr(speech: torch.Tensor, noise: torch.Tensor,
               snr_db: Union[float, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """(noisy, scaled_noise): noise scaled so that speech-to-noise energy ratio over the last
    axis is snr_db, and added to the speech.

    Shapes (..., T); snr_db is a number or a tensor broadcastable to the leading shape. The
    scaled noise is returned too because it is the exact residual an ideal enhancer removes
    (the ideal band gains are computed from it).
    """
    if speech.shape[-1] != noise.shape[-1]:
        raise ValueError(f"speech has {speech.shape[-1]} samples, noise {noise.shape[-1]}")
    snr = torch.as_tensor(snr_db, dtype=speech.dtype, device=speech.device)
    if snr.dim() > 0:
        snr = snr.unsqueeze(-1)
    speech_rms = speech.pow(2).mean(dim=-1, keepdim=True).sqrt()
    noise_rms = noise.pow(2).mean(dim=-1, keepdim=True).sqrt()
    tiny = torch.finfo(speech.dtype).tiny
    scale = speech_rms / (noise_rms.clamp(min=tiny) * torch.pow(10.0, snr / 20.0))
    scaled_noise = noise * scale
    return speech + scaled_noise, scaled_noise


def synthetic_rir(sample_rate: int, rt60: float, generator: Optional[torch.Generator] = None,
                  device: Device = None, direct_to_reverberant_db: Optional[float] = None
                  ) -> torch.Tensor:
    """A synthetic room impulse response: a unit direct path followed, after a few ms, by a
    Gaussian noise tail whose amplitude falls 60 dB in rt60 seconds.

    Exponentially decaying noise is the statistical model of a diffuse late reverberant field
    (Polack); it lacks distinct early reflections but has the right decay and density, which is
    what smears speech envelopes. The tail's energy relative to the direct path is
    direct_to_reverberant_db (drawn from 0..10 dB when not given); the tail is high-passed
    slightly by construction (zero mean) and lasts rt60 seconds. Float32, shape (L,).
    """
    if rt60 <= 0.0:
        raise ValueError(f"rt60 must be positive, got {rt60}")
    if direct_to_reverberant_db is None:
        direct_to_reverberant_db = _uniform(0.0, 10.0, generator)
    gap = max(1, int(round(_uniform(0.001, 0.005, generator) * sample_rate)))
    tail_length = max(1, int(round(rt60 * sample_rate)))
    t = torch.arange(tail_length, dtype=torch.float32) / sample_rate
    decay = torch.exp(-3.0 * math.log(10.0) * t / rt60).to(device)   # -60 dB at t = rt60
    tail = _randn(tail_length, generator, device) * decay
    tail = tail - tail.mean()
    tail_energy = tail.pow(2).sum().clamp(min=torch.finfo(torch.float32).tiny)
    tail = tail * torch.sqrt(10.0 ** (-direct_to_reverberant_db / 10.0) / tail_energy)
    rir = torch.zeros(gap + tail_length, dtype=torch.float32, device=tail.device)
    rir[0] = 1.0
    rir[gap:] = tail
    return rir


def apply_rir(speech: torch.Tensor, rir: torch.Tensor) -> torch.Tensor:
    """Convolve speech (..., T) with a room impulse response (L,) or (..., L) via the FFT and
    keep the first T samples, so the reverberant speech stays aligned with the dry speech (the
    RIR's direct path is at lag 0)."""
    length = speech.shape[-1]
    return _fft_convolve(speech, rir.to(device=speech.device))[..., :length].to(speech.dtype)


def _fft_convolve(signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Full linear convolution along the last axis, in float64 for accuracy on long signals."""
    full = signal.shape[-1] + kernel.shape[-1] - 1
    size = 1 << (full - 1).bit_length()
    product = (torch.fft.rfft(signal.to(torch.float64), n=size)
               * torch.fft.rfft(kernel.to(torch.float64), n=size))
    return torch.fft.irfft(product, n=size)[..., :full]
