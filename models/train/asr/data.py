"""Training batches for the recogniser: whole utterances with transcripts, augmented on the
training device.

Speech comes from speech shards (.ssc, speech/shard.py) or their compact re-packs (.mdct,
mdct_pack.py), all brought to 16 kHz once at load and kept in one tensor on the device. A batch
is made whole there. Per row:
  1. a training utterance from one length bucket (rows of a batch have similar lengths, so
     little of the batch is padding), placed after 0-0.2 s of silence;
  2. speed perturbation with p = 0.8: the utterance resampled by a factor drawn from
     0.85, 0.9, ..., 1.2 (FFT domain), which scales pitch, formants and tempo together: the
     lever the data policy leaves against the mismatch between the training voices and unseen
     speakers;
  3. reverberation with p = 0.3 (noise.batch_rirs, rt60 0.1-0.7 s);
  4. noise with p = 0.75 (else clean): one of noise.TRAIN_NOISE_TYPES from its batched
     generator, or two with p = 0.3 (the second at weight 0.3-1), at an SNR uniform in
     0-25 dB over the utterance. The batched generators exist for the training types only:
     tones and clicks, held out for the test, cannot reach a batch. Babble talkers are 64 other
     training utterances;
  5. a level: the mixture's RMS uniform in -45..-5 dBFS (-25 +- 20 dB), peaks kept <= 0.99;
  6. a telephone channel with p = 0.15: band-pass 300-3400 Hz (raised-cosine edges down to
     200 Hz and up to 3800 Hz, nothing from 3800 Hz up: what an 8 kHz call resampled to
     16 kHz holds), and G.711 mu-law 8-bit coding on half of those rows;
  7. log-mel features exactly as the engine computes them (model.features), except that with
     p = 0.6 a row gets vocal-tract-length perturbation (VTLP): its mel filterbank is taken at
     warped frequencies, alpha drawn from 0.88, 0.89, ..., 1.12 (vtlp_filterbank). Rows left
     alone get exactly the engine's features; the exported model never sees a warp.
SpecAugment (spec_augment) runs in the training step, on normalised features.

Per-row choices come from one seeded CPU generator; bulk random samples (noise, RIR tails) from
a generator on the device seeded from it, so a seed rebuilds a run on the same kind of device.
"""
import glob
import math
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

from asr import mdct_pack  # noqa: E402
from asr import text as asr_text  # noqa: E402
from asr.model import HOP, N_BANDS, SAMPLE_RATE, WINDOW, features  # noqa: E402
from features import (_hz_to_mel, _mel_to_hz, band_energies, log_compress,  # noqa: E402
                      make_window, mel_filterbank, power, stft)
from enhance.noise import TRAIN_NOISE_TYPES, SpeechPool, batch_noise, batch_rirs  # noqa: E402

SPEED_PROBABILITY = 0.8
# Resampling factors (drawn uniformly): 1.2 raises pitch and formants by 3 semitones and
# shortens the utterance by 1/1.2. A fixed set, with source lengths padded to SIZE_QUANTUM,
# keeps the FFT sizes few (see BatchMaker._place).
SPEED_FACTORS = (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2)
SIZE_QUANTUM = 4096                  # samples (0.256 s): source and batch lengths round up to it
LEAD_SILENCE_S = (0.0, 0.2)
REVERB_PROBABILITY = 0.3
RT60_RANGE_S = (0.1, 0.7)
NOISE_PROBABILITY = 0.75
SNR_RANGE_DB = (0.0, 25.0)
SECOND_NOISE_PROBABILITY = 0.3
LEVEL_RANGE_DBFS = (-45.0, -5.0)
PEAK_LIMIT = 0.99
TELEPHONE_PROBABILITY = 0.15
TELEPHONE_MULAW_PROBABILITY = 0.5
BABBLE_POOL = 64
CLEAN_LEVEL_DBFS = -25.0             # the un-augmented (validation) level, as the test levels
MULAW = 255.0

# SpecAugment (Park et al. 2019), sized for a small model and 10 ms frames: two frequency masks
# of up to 12 of 80 bands, and one time mask of up to 25 frames (0.25 s) per 1.5 s of speech,
# never more than 20 % of an utterance's frames.
FREQ_MASKS = 2
FREQ_MASK_BANDS = 12
TIME_MASK_FRAMES = 25
TIME_MASKS_PER_FRAME = 1.0 / 150.0
TIME_MASK_FRACTION = 0.2

# Vocal-tract-length perturbation (Jaitly & Hinton 2013). Speed perturbation moves pitch,
# formants and tempo together; VTLP moves the formants alone, as a shorter (alpha > 1) or longer
# (alpha < 1) vocal tract would, so one training voice stands in for several. +-12 % is the
# usual 0.9-1.1 a little widened, towards the ratio of typical adult male and female vocal
# tracts (about 17 and 14.5 cm). p = 0.6 leaves 40 % of the rows unwarped, as every input is at
# inference.
VTLP_PROBABILITY = 0.6
# alpha in hundredths, drawn uniformly from this set: a small fixed set of filterbanks, built
# once per BatchMaker, instead of one per row. A step of 0.01 moves a 1 kHz formant by 10 Hz, a
# third of a 31 Hz bin, so a finer grid would add little.
VTLP_STEPS = tuple(range(88, 113))
# Below it frequencies scale by alpha; above it a straight line runs to Nyquist, which stays
# put, so no band falls off the top or is left empty. 4.8 kHz is above the third formant of
# adult speakers, so the formants themselves scale by alpha exactly.
VTLP_BOUNDARY_HZ = 4800.0

HELD_OUT_PREFIXES = ("eval", "dev")
# The recogniser's voice set (speech/voices.py): flite rms and espeak-ng en-gb-scotland are its
# test speakers. Shards rendered for the enhancer's set carry en-gb-scotland utterances; they
# are skipped on load, never trained on.
VOICE_SET = "asr"


def resample(audio: torch.Tensor, length_out: int) -> torch.Tensor:
    """(n,) -> (length_out,) band-limited resampling in the FFT domain (bins above the lower
    Nyquist dropped). Utterances start and end in silence, so the transform's circular wrap
    does not show."""
    n = audio.shape[-1]
    if length_out == n:
        return audio
    spectrum = torch.fft.rfft(audio.float())
    keep = min(n, length_out) // 2 + 1
    spectrum = spectrum[..., :keep]
    if length_out < n and length_out % 2 == 0:
        spectrum[..., -1] = 0     # the new Nyquist bin would alias; drop it
    return torch.fft.irfft(spectrum, n=length_out) * (length_out / n)


def vtlp_warp(hz: torch.Tensor, alpha: float) -> torch.Tensor:
    """Piecewise-linear VTLP warp of frequencies (Hz): alpha f up to the boundary
    B min(alpha, 1) / alpha, then linear to Nyquist, which maps to itself."""
    nyquist = SAMPLE_RATE / 2
    knee = VTLP_BOUNDARY_HZ * min(alpha, 1.0) / alpha
    upper = nyquist - (nyquist - alpha * knee) / (nyquist - knee) * (nyquist - hz)
    return torch.where(hz <= knee, alpha * hz, upper)


def vtlp_filterbank(alpha: float) -> torch.Tensor:
    """(N_BANDS, F/2 + 1) float64: the front-end's mel triangles evaluated at the warped bin
    frequencies, W[b][k] = T_b(warp(f_k)). Energy at f lands in the band that covers
    warp(f), so alpha > 1 moves spectral content (formants) up, alpha < 1 down; a tone keeps
    its energy. alpha = 1 gives mel_filterbank itself, bit for bit."""
    fft_size = 1 << (WINDOW - 1).bit_length()
    if alpha == 1.0:
        return mel_filterbank(SAMPLE_RATE, fft_size, N_BANDS, dtype=torch.float64)
    # The same edges as mel_filterbank (HTK mel, 0 .. sr/2): only the bin frequencies move.
    top = _hz_to_mel(torch.tensor(SAMPLE_RATE / 2, dtype=torch.float64))
    edges = _mel_to_hz(torch.linspace(0.0, float(top), N_BANDS + 2, dtype=torch.float64))
    hz = torch.arange(fft_size // 2 + 1, dtype=torch.float64) * SAMPLE_RATE / fft_size
    f = vtlp_warp(hz, alpha)[None, :]
    low, peak, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return torch.minimum((f - low) / (peak - low), (high - f) / (high - peak)).clamp(min=0.0)


def warped_features(audio: torch.Tensor, bank: torch.Tensor,
                    choice: torch.Tensor) -> torch.Tensor:
    """(B, T) audio -> (B, T // HOP, N_BANDS) log-mel, row r through filterbank bank[choice[r]]
    (bank (A, N_BANDS, F/2 + 1) on the audio's device, choice (B,) long; -1: the engine's own
    filterbank). Every row goes through the engine's path first, so unwarped rows are exactly
    model.features; the warped rows are then recomputed in one batched matmul."""
    fft_size = 1 << (WINDOW - 1).bit_length()
    window = make_window("hann", WINDOW, dtype=audio.dtype, device=audio.device)
    spec = power(stft(audio, window, HOP, fft_size))                    # (B, M, F/2 + 1)
    energies = band_energies(spec, mel_filterbank(SAMPLE_RATE, fft_size, N_BANDS,
                                                  dtype=torch.float64))
    rows = torch.nonzero(choice >= 0)[:, 0]
    if rows.numel():
        # (R, M, F/2 + 1) @ (R, F/2 + 1, N_BANDS): one matrix per row, gathered from the bank.
        chosen = bank.to(spec)[choice[rows].to(bank.device)].transpose(1, 2)
        rows = rows.to(spec.device)
        energies = energies.index_copy(0, rows, torch.bmm(spec[rows], chosen))
    return log_compress(energies)


def _check_training_source(path: str, name: str) -> None:
    base = os.path.basename(name)
    if base.startswith(HELD_OUT_PREFIXES):
        raise ValueError(f"{path}: {base} is a held-out shard ({', '.join(HELD_OUT_PREFIXES)}*: "
                         "development choices and the test); it never trains")


def engine_and_voice(utterance: Dict) -> Tuple[str, str]:
    """("espeak-ng", "en-gb-scotland") of "espeak-ng:en-gb-scotland+m3:s=160:p=50"."""
    engine, voice = (str(utterance.get("voice", "")).split(":") + ["", ""])[:2]
    return engine, voice.split("+")[0]


def held_out_by_recogniser(utterance: Dict) -> bool:
    """True for a voice the recogniser's voice set keeps for its test (speech/voices.py)."""
    from speech.voices import EVAL_ONLY_VOICES_OF_SET
    return engine_and_voice(utterance) in EVAL_ONLY_VOICES_OF_SET[VOICE_SET]


def _check_training_utterance(path: str, index: int, utterance: Dict) -> None:
    if utterance.get("split") != "train" or held_out_by_recogniser(utterance):
        raise ValueError(f"{path}: utterance {index} ({utterance.get('voice')!r}) is not a "
                         f"training voice of the training split of voice set {VOICE_SET!r}")
    if not asr_text.is_normalised(utterance["text"]):
        raise ValueError(f"{path}: utterance {index}: transcript {utterance['text']!r} is not "
                         "in the recogniser's alphabet")


class SpeechStore:
    """Utterances at 16 kHz back to back in one float32 tensor on `device`, with transcripts."""

    def __init__(self, paths: Sequence[str], device, allow_held_out: bool = False):
        self.device = torch.device(device)
        pieces: List[torch.Tensor] = []
        self.starts: List[int] = []
        self.lengths: List[int] = []
        self.texts: List[str] = []
        self.sources: List[str] = []
        self.skipped_held_out = 0    # utterances of the recogniser's test voices, never loaded
        used = 0
        for path in paths:
            if path.endswith(".mdct"):
                header, codes, quantised = mdct_pack.read_pack(path)
                if not allow_held_out:
                    _check_training_source(path, path)
                    _check_training_source(path, header.get("source", ""))
                stream = mdct_pack.decode_stream(codes, quantised, self.device)
                for index, entry in enumerate(header["utterances"]):
                    if not allow_held_out and held_out_by_recogniser(entry):
                        self.skipped_held_out += 1
                        continue
                    if not allow_held_out:
                        _check_training_utterance(path, index, entry)
                    self.starts.append(used + (entry["frame_offset"] + 1) * mdct_pack.HOP)
                    self.lengths.append(int(entry["length"]))
                    self.texts.append(entry["text"])
                    self.sources.append(header.get("source", os.path.basename(path)))
                pieces.append(stream)
                used += stream.shape[0]
            else:
                from speech.shard import read_shard
                if not allow_held_out:
                    _check_training_source(path, path)
                for index, utterance in enumerate(read_shard(path)):
                    if not allow_held_out and held_out_by_recogniser(utterance):
                        self.skipped_held_out += 1
                        continue
                    if not allow_held_out:
                        _check_training_utterance(path, index, utterance)
                    audio = torch.from_numpy(utterance["audio"]).to(self.device)
                    rate = int(utterance["sample_rate"])
                    audio = resample(audio, int(round(audio.shape[0] * SAMPLE_RATE / rate)))
                    self.starts.append(used)
                    self.lengths.append(int(audio.shape[0]))
                    self.texts.append(utterance["text"])
                    self.sources.append(os.path.basename(path))
                    pieces.append(audio)
                    used += audio.shape[0]
        if not pieces:
            raise ValueError("no speech: give at least one shard (.ssc) or pack (.mdct)")
        self.audio = torch.cat(pieces)
        self.labels = [asr_text.encode(t) for t in self.texts]

    def __len__(self) -> int:
        return len(self.texts)

    def seconds(self, indices: Optional[Sequence[int]] = None) -> float:
        chosen = range(len(self)) if indices is None else indices
        return sum(self.lengths[i] for i in chosen) / SAMPLE_RATE

    def waveform(self, index: int) -> torch.Tensor:
        start = self.starts[index]
        return self.audio[start:start + self.lengths[index]]


def expand_patterns(patterns: Sequence[str]) -> List[str]:
    paths: List[str] = []
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if not found:
            raise FileNotFoundError(f"no shard or pack matches {pattern!r}")
        paths += found
    return paths


def _uniform(generator: torch.Generator, low: float, high: float, size=()) -> torch.Tensor:
    return low + (high - low) * torch.rand(size, generator=generator, dtype=torch.float64)


def _rms(audio: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, T) -> (B, 1) RMS over each row's valid samples."""
    power = (audio.pow(2) * valid).sum(-1, keepdim=True) / valid.sum(-1, keepdim=True).clamp(min=1)
    return power.sqrt()


def telephone_gains(num_samples: int, device) -> torch.Tensor:
    """rfft-bin gains of the telephone band: raised-cosine 200->300 Hz and 3400->3800 Hz."""
    hz = torch.fft.rfftfreq(num_samples, d=1.0 / SAMPLE_RATE).to(device)
    rise = ((hz - 200.0) / 100.0).clamp(0.0, 1.0)
    fall = ((3800.0 - hz) / 400.0).clamp(0.0, 1.0)
    return (0.5 - 0.5 * torch.cos(math.pi * rise)) * (0.5 - 0.5 * torch.cos(math.pi * fall))


def mulaw_round_trip(audio: torch.Tensor) -> torch.Tensor:
    """G.711-style 8-bit mu-law coding and decoding of audio in [-1, 1]."""
    compressed = torch.sign(audio) * torch.log1p(MULAW * audio.abs().clamp(max=1.0)) / \
        math.log1p(MULAW)
    compressed = torch.round(compressed * 127.0) / 127.0
    return torch.sign(compressed) * torch.expm1(compressed.abs() * math.log1p(MULAW)) / MULAW


class BatchMaker:
    """Seeded augmented batches of whole utterances of `indices` of a SpeechStore."""

    def __init__(self, store: SpeechStore, indices: Sequence[int], seed: int, batch: int,
                 vtlp: float = VTLP_PROBABILITY):
        """vtlp: the probability of a row's VTLP warp in augmented batches; 0 turns it off
        and then draws nothing, so a seed gives the batches it gave before VTLP existed."""
        if not 0.0 <= vtlp <= 1.0:
            raise ValueError(f"vtlp is a probability, got {vtlp}")
        self.store = store
        self.vtlp = float(vtlp)
        # (len(VTLP_STEPS), N_BANDS, F/2 + 1) float32 on the device: 2 MB, built once.
        self.vtlp_bank = torch.stack([vtlp_filterbank(k / 100.0) for k in VTLP_STEPS]).to(
            device=store.device, dtype=torch.float32) if self.vtlp > 0 else None
        self.device = store.device
        self.indices = list(indices)
        self.generator = torch.Generator().manual_seed(seed)
        self.sample_generator = torch.Generator(device=self.device)
        self.sample_generator.manual_seed(int(torch.randint(0, 2 ** 62, (),
                                                            generator=self.generator)))
        # Length buckets of at least 3 batches each: a batch is drawn from one bucket, every
        # utterance equally often.
        order = sorted(self.indices, key=lambda i: store.lengths[i])
        count = max(1, len(order) // (3 * batch))
        self.buckets = [order[k * len(order) // count:(k + 1) * len(order) // count]
                        for k in range(count)]
        pool = torch.Generator().manual_seed(seed + 1)
        picks = torch.randperm(len(self.indices), generator=pool)[:BABBLE_POOL].tolist()
        self.babble_pool = SpeechPool([store.waveform(self.indices[k]) for k in picks],
                                      self.device)

    def sample(self, batch: int) -> List[int]:
        """Utterances of one random length bucket (all of it if smaller than the batch)."""
        weights = torch.tensor([float(len(b)) for b in self.buckets])
        bucket = self.buckets[int(torch.multinomial(weights, 1, generator=self.generator))]
        if len(bucket) <= batch:
            return list(bucket)
        chosen = torch.randperm(len(bucket), generator=self.generator)[:batch]
        return [bucket[int(k)] for k in chosen]

    def batch(self, batch: int, augment: bool = True) -> Dict[str, torch.Tensor]:
        return self.make(self.sample(batch), augment)

    def make(self, rows: Sequence[int], augment: bool = True) -> Dict[str, torch.Tensor]:
        """{"features" (B, M, 80) raw log-mel, "frame_counts" (B,), "labels" (sum of label
        counts,), "label_counts" (B,)} on the device, and "texts" (list)."""
        gen, count = self.generator, len(rows)
        factors = torch.ones(count, dtype=torch.float64)
        if augment:
            speed = torch.rand(count, generator=gen) < SPEED_PROBABILITY
            choice = torch.randint(0, len(SPEED_FACTORS), (count,), generator=gen)
            factors = torch.where(speed, torch.tensor(SPEED_FACTORS, dtype=torch.float64)[choice],
                                  factors)
        lead = (_uniform(gen, *LEAD_SILENCE_S, size=(count,)) * SAMPLE_RATE).long() if augment \
            else torch.zeros(count, dtype=torch.long)
        lengths = [int(round(self.store.lengths[i] / float(factors[k])))
                   for k, i in enumerate(rows)]
        ends = lead + torch.tensor(lengths, dtype=torch.long)
        total = int(-(-int(ends.max()) // SIZE_QUANTUM) * SIZE_QUANTUM)
        speech = self._place(rows, factors, lead, lengths, total)
        valid = (torch.arange(total, device=self.device)[None, :] <
                 ends.to(self.device)[:, None]).float()
        mixture = self._augment(speech, valid) if augment else speech
        rms = _rms(mixture, valid).clamp(min=1e-9)
        level = _uniform(gen, *LEVEL_RANGE_DBFS, size=(count, 1)).float() if augment \
            else torch.full((count, 1), CLEAN_LEVEL_DBFS)
        gain = torch.pow(10.0, level.to(self.device) / 20.0) / rms
        peak = (mixture * gain).abs().amax(-1, keepdim=True)
        mixture = mixture * gain * (PEAK_LIMIT / peak.clamp(min=PEAK_LIMIT))
        if augment:
            mixture = self._telephone(mixture)
        if augment and self.vtlp > 0:
            # Drawn last, so the draws above are those of a run without VTLP.
            warp = torch.rand(count, generator=gen) < self.vtlp
            step = torch.randint(0, len(VTLP_STEPS), (count,), generator=gen)
            # alpha = 1 rows take the engine's path: exactly its features, not a rounding off.
            warp &= step != VTLP_STEPS.index(100)
            feats = warped_features(mixture, self.vtlp_bank,
                                    torch.where(warp, step, torch.full_like(step, -1)))
        else:
            feats = features(mixture)
        frame_counts = ends // HOP
        labels = [self.store.labels[i] for i in rows]
        return {"features": feats, "frame_counts": frame_counts.to(self.device),
                "labels": torch.tensor([x for row in labels for x in row], dtype=torch.long,
                                       device=self.device),
                "label_counts": torch.tensor([len(row) for row in labels], dtype=torch.long,
                                             device=self.device),
                "texts": [self.store.texts[i] for i in rows]}

    def _place(self, rows: Sequence[int], factors: torch.Tensor, lead: torch.Tensor,
               lengths: Sequence[int], total: int) -> torch.Tensor:
        """(B, total) speech: row k is utterance rows[k] resampled by factors[k] (lengths[k]
        samples), after lead[k] samples of silence. Rows with the same padded source length and
        factor are resampled together, so the FFT sizes come from a small set whose plans the
        FFT library keeps (a new size costs a plan each time, which was most of a batch's
        time when every row had its own size)."""
        speech = torch.zeros(len(rows), total, device=self.device)
        groups: Dict = {}
        for k, i in enumerate(rows):
            padded = -(-self.store.lengths[i] // SIZE_QUANTUM) * SIZE_QUANTUM
            groups.setdefault((padded, float(factors[k])), []).append(k)
        last = self.store.audio.shape[0] - 1
        for (padded, factor), members in groups.items():
            # Index tensors are made on the device: only a few numbers per row cross the bus.
            starts = torch.tensor([self.store.starts[rows[k]] for k in members],
                                  device=self.device)
            sizes = torch.tensor([self.store.lengths[rows[k]] for k in members],
                                 device=self.device)
            offset = torch.arange(padded, device=self.device)[None, :]
            source = self.store.audio[(starts[:, None] + offset).clamp(max=last)] * \
                (offset < sizes[:, None])
            out = source if factor == 1.0 else resample(source, int(round(padded / factor)))
            width = out.shape[-1]
            position = torch.arange(width, device=self.device)[None, :]
            kept = position < torch.tensor([lengths[k] for k in members],
                                           device=self.device)[:, None]
            row_index = torch.tensor(members, device=self.device)[:, None].expand(-1, width)
            column = lead[members].to(self.device)[:, None] + position
            speech[row_index[kept], column.expand(len(members), -1)[kept]] = out[kept]
        return speech

    def _augment(self, speech: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        gen, (count, total) = self.generator, speech.shape
        reverb = torch.nonzero(torch.rand(count, generator=gen) < REVERB_PROBABILITY)[:, 0]
        if reverb.numel():
            rirs = batch_rirs(reverb.numel(), SAMPLE_RATE, gen, self.device,
                              self.sample_generator, RT60_RANGE_S)
            size = 1 << (total + rirs.shape[-1] - 2).bit_length()
            rows = reverb.to(self.device)
            wet = torch.fft.irfft(torch.fft.rfft(speech[rows], n=size) *
                                  torch.fft.rfft(rirs, n=size), n=size)[:, :total]
            speech = speech.clone()
            speech[rows] = wet
        noisy = torch.rand(count, generator=gen) < NOISE_PROBABILITY
        kinds = len(TRAIN_NOISE_TYPES)
        first = torch.randint(0, kinds, (count,), generator=gen)
        second = torch.randint(0, kinds, (count,), generator=gen)
        has_second = noisy & (torch.rand(count, generator=gen) < SECOND_NOISE_PROBABILITY)
        weight = _uniform(gen, 0.3, 1.0, size=(count,)).float()
        snr_db = _uniform(gen, *SNR_RANGE_DB, size=(count, 1)).float().to(self.device)
        if not bool(noisy.any()):
            return speech
        noise = torch.zeros_like(speech)
        for j, kind in enumerate(TRAIN_NOISE_TYPES):
            main_rows = torch.nonzero(noisy & (first == j))[:, 0]
            extra_rows = torch.nonzero(has_second & (second == j))[:, 0]
            rows = torch.cat([main_rows, extra_rows])
            if rows.numel() == 0:
                continue
            weights = torch.cat([torch.ones(main_rows.numel()), weight[extra_rows]])
            clips = batch_noise(kind, rows.numel(), total, SAMPLE_RATE, gen, self.device,
                                self.sample_generator, speech=self.babble_pool)
            noise.index_add_(0, rows.to(self.device), clips * weights.to(self.device)[:, None])
        noise = noise * valid
        scale = _rms(speech, valid) / (_rms(noise, valid).clamp(min=1e-12) *
                                       torch.pow(10.0, snr_db / 20.0))
        return speech + noise * scale * noisy.to(self.device).float()[:, None]

    def _telephone(self, mixture: torch.Tensor) -> torch.Tensor:
        gen, (count, total) = self.generator, mixture.shape
        phone = torch.rand(count, generator=gen) < TELEPHONE_PROBABILITY
        coded = phone & (torch.rand(count, generator=gen) < TELEPHONE_MULAW_PROBABILITY)
        if not bool(phone.any()):
            return mixture
        rows = torch.nonzero(phone)[:, 0].to(self.device)
        out = mixture.clone()
        out[rows] = torch.fft.irfft(torch.fft.rfft(mixture[rows]) *
                                    telephone_gains(total, self.device), n=total)
        if bool(coded.any()):
            rows = torch.nonzero(coded)[:, 0].to(self.device)
            out[rows] = mulaw_round_trip(out[rows])
        return out


def spec_augment(x: torch.Tensor, frame_counts: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor:
    """Frequency and time masks on normalised features (B, M, D), set to 0 (the global mean);
    the masks' places come from the CPU generator."""
    count, frames, dims = x.shape
    lengths = frame_counts.cpu()
    keep_f = torch.ones(count, dims, dtype=torch.bool)
    band = torch.arange(dims)[None, :]
    for _ in range(FREQ_MASKS):
        width = torch.randint(0, FREQ_MASK_BANDS + 1, (count, 1), generator=generator)
        start = (torch.rand(count, 1, generator=generator) * (dims - width + 1)).long()
        keep_f &= ~((band >= start) & (band < start + width))
    keep_t = torch.ones(count, frames, dtype=torch.bool)
    step = torch.arange(frames)[None, :]
    masks = max(1, int(round(int(lengths.max()) * TIME_MASKS_PER_FRAME)))
    cap = (lengths.double() * TIME_MASK_FRACTION / masks).long().clamp(max=TIME_MASK_FRAMES)
    for _ in range(masks):
        width = (torch.rand(count, generator=generator) * (cap + 1).double()).long()[:, None]
        start = (torch.rand(count, 1, generator=generator) *
                 (lengths[:, None] - width + 1).clamp(min=1).double()).long()
        keep_t &= ~((step >= start) & (step < start + width))
    # Two small masks cross the bus, not a (B, M, D) one.
    keep_f = keep_f.to(device=x.device, dtype=x.dtype)
    keep_t = keep_t.to(device=x.device, dtype=x.dtype)
    return x * keep_f[:, None, :] * keep_t[:, :, None]


def feature_statistics(maker: BatchMaker, batches: int, batch: int):
    """Per-band mean and standard deviation of raw log-mel over the valid frames of a few
    augmented batches: the model's fixed input normalisation."""
    total, square, frames = 0.0, 0.0, 0
    for _ in range(batches):
        b = maker.batch(batch)
        valid = (torch.arange(b["features"].shape[1], device=maker.device)[None, :] <
                 b["frame_counts"][:, None]).double()[..., None]
        f = b["features"].double()
        total = total + (f * valid).sum((0, 1))
        square = square + (f * f * valid).sum((0, 1))
        frames += int(valid.sum())
    mean = total / frames
    std = (square / frames - mean * mean).clamp(min=1e-6).sqrt()
    return mean.float().cpu(), std.float().cpu()


def split_validation(count: int, every: int):
    """(training indices, validation indices): every `every`-th utterance (store order) is set
    aside as a validation set of the training voices with unseen sentences."""
    if every <= 0:
        return list(range(count)), []
    return ([i for i in range(count) if i % every], [i for i in range(count) if i % every == 0])

