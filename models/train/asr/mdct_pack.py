#!/usr/bin/env python3
"""A lossy, compact re-pack of speech shards for carrying to a training machine.

    /usr/bin/python3 -m models.train.asr.mdct_pack --out build/asr_carry \\
        build/asr_speech/train_000.ssc build/asr_speech/train_001.ssc ...

The ASR training shards (speech/shard.py: 8-bit mu-law at the voices' native rates, xz) hold
about 9.6 kB per second of speech, so the 4.27 h of build/asr_speech/train_*.ssc are 148 MB.
A training machine that is sent the working tree with a size cap needs them smaller. The
recogniser only ever sees 16 kHz audio through an 80-band log-mel front-end, so this pack:

  1. resamples every utterance to 16 kHz (espeak-ng's 22.05 kHz loses only 8-11 kHz, which the
     front-end never sees; flite kal's 8 kHz is upsampled and keeps its empty top band);
  2. codes it with an MDCT (sine window, M = 256: 16 ms hops, 31.25 Hz bins), the coefficients
     grouped into BAND_EDGES (20 bands, narrow at low frequencies);
  3. sends one scale factor per band and frame (its RMS in 3 dB steps; bands more than
     FLOOR_DB below the utterance's peak are not sent: the source mu-law code already has no
     finer step near zero) and every coefficient quantised with a step of STEP_FRACTION of its
     band's RMS: about 15 dB signal-to-quantisation-noise in every band, shaped like the
     speech spectrum, which moves the log-mel features much less than white quantisation noise
     of the same bit rate would (mu-law at 6 bits: measured below);
  4. xz-compresses the coefficient stream (bin-major per utterance, int8: |q| < 12 by
     construction, see encode) and the scale factors (time differences per band).

Measured on 150 utterances of train_000 (7.2 min), mean |log-mel difference| (natural log)
over bins above -10 against the 16 kHz source, and bytes per second of speech:

    this pack, step 0.5 of the band RMS       0.24   6.9 kB/s   (3 dB scale steps: 0.24)
    this pack, step 0.6 (the setting)         0.29   6.5 kB/s
    this pack, step 0.8                       0.37   5.7 kB/s
    the same with M = 512, step 0.5           0.33   6.8 kB/s
    mu-law at 6 bits, 16 kHz, xz              0.73   5.8 kB/s
    mu-law at 8 bits, 16 kHz, xz (requant.)   0.16   9.2 kB/s

(pack rows with 1.5 dB scale steps; 3 dB steps, the setting, cost 2 % fewer bytes for the same
error.) The six ASR training shards pack to 16.3-16.5 MB each (6.4 kB/s; sources 24.2-25.1 MB).

Step 0.6 is the largest that lets three packs, the working tree and a resumable checkpoint
travel together under 64 MiB; a difference of 0.29 in ln-energy is about 1.3 dB per bin, well
inside what the noise and gain augmentation move the features by.

Two decoders: unpack_file (numpy alone, one utterance at a time: the reference) and
decode_stream (torch, every frame of a pack in one matrix product, on the training device;
the packed utterances lie back to back in one waveform, see decode_stream). Transcripts and
every metadata key of the source utterances travel unchanged.

File layout: magic b"SSMDCT1\\0", uint32 header length, uint64 coefficient-stream length, uint64
scale-factor-stream length (little-endian), the UTF-8 JSON header, then the two xz streams.
"""
import argparse
import json
import lzma
import os
import struct
import sys
import time
from typing import Any, Dict, List, Sequence

import numpy as np

_TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TRAIN_DIR not in sys.path:
    sys.path.insert(0, _TRAIN_DIR)

MAGIC = b"SSMDCT1\0"
_PREFIX = struct.Struct("<8sIQQ")
SAMPLE_RATE = 16000
HOP = 256                          # MDCT coefficients per frame (16 ms)
BAND_EDGES = (0, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224,
              256)                 # bins of 31.25 Hz: 125 Hz wide bands below 1 kHz, 1 kHz at top
SCALE_STEP_DB = 3.0                # 1.5 dB steps cost 2 % more bytes for the same log-mel error
STEP_FRACTION = 0.6                # quantiser step / band RMS: SNR 10 log10(12 / 0.36) = 15.2 dB
FLOOR_DB = -75.0                   # bands below this RMS (peak = 0 dB) are not sent
SILENT_BAND = -127                 # scale-factor code of a band that is not sent
_LOWEST_SCALE, _HIGHEST_SCALE = -126, 40


def _window() -> np.ndarray:
    # Sine window: w[n]^2 + w[n + M]^2 = 1 (Princen-Bradley), so MDCT + overlap-add is exact.
    return np.sin(np.pi * (np.arange(2 * HOP) + 0.5) / (2 * HOP))


def _basis() -> np.ndarray:
    """(2M, M) MDCT basis, scaled so that the transform with the sine window is orthonormal."""
    n = np.arange(2 * HOP)[:, None]
    k = np.arange(HOP)[None, :]
    return np.cos(np.pi / HOP * (n + 0.5 + HOP / 2) * (k + 0.5)) * np.sqrt(2.0 / HOP)


_WINDOW = _window()
_BASIS = _basis()


def mdct(audio: np.ndarray) -> np.ndarray:
    """(L,) -> (F, M) coefficients, F = ceil(L / M) + 1; zeros before and after the audio."""
    length = audio.shape[0]
    frames = -(-length // HOP) + 1
    padded = np.zeros((frames + 1) * HOP)
    padded[HOP:HOP + length] = audio
    blocks = np.lib.stride_tricks.sliding_window_view(padded, 2 * HOP)[::HOP][:frames]
    return (blocks * _WINDOW) @ _BASIS


def imdct(coefficients: np.ndarray, length: int) -> np.ndarray:
    """Inverse of mdct() (windowed overlap-add): the first `length` samples."""
    frames = coefficients.shape[0]
    blocks = (coefficients @ _BASIS.T) * _WINDOW                  # (F, 2M)
    out = np.zeros((frames + 1) * HOP)
    out[:frames * HOP].reshape(frames, HOP)[:] += blocks[:, :HOP]
    out[HOP:].reshape(frames, HOP)[:] += blocks[:, HOP:]
    return out[HOP:HOP + length]


def _band_steps(scales: np.ndarray) -> np.ndarray:
    """(F, B) scale codes -> (F, B) quantiser steps (0 for bands not sent)."""
    rms = np.power(10.0, scales.astype(np.float64) * SCALE_STEP_DB / 20.0)
    return np.where(scales == SILENT_BAND, 0.0, rms * STEP_FRACTION)


def _per_bin(values: np.ndarray) -> np.ndarray:
    """(F, B) -> (F, M): each band's value repeated over its bins."""
    return np.repeat(values, np.diff(BAND_EDGES), axis=1)


def encode(audio: np.ndarray):
    """16 kHz audio -> (scale codes (F, B) int8, quantised coefficients (F, M) int8)."""
    audio = np.asarray(audio, dtype=np.float64)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    coefficients = mdct(audio / peak if peak > 0 else audio)
    squares = coefficients ** 2
    band_rms = np.sqrt(np.stack([squares[:, a:b].mean(axis=1) for a, b in
                                 zip(BAND_EDGES[:-1], BAND_EDGES[1:])], axis=1))
    codes = np.rint(20.0 * np.log10(np.maximum(band_rms, 1e-12)) / SCALE_STEP_DB)
    codes = np.clip(codes, _LOWEST_SCALE, _HIGHEST_SCALE)
    codes[band_rms < 10.0 ** (FLOOR_DB / 20.0)] = SILENT_BAND
    codes = codes.astype(np.int8)
    steps = _per_bin(_band_steps(codes))
    quantised = np.where(steps > 0, np.rint(coefficients / np.where(steps > 0, steps, 1.0)), 0.0)
    # A coefficient is at most sqrt(width) times its band RMS, and a band's RMS is at most half
    # a scale step above its rounded code: |q| <= sqrt(32) * 10^(1.5 / 20) / 0.6 < 12.
    return codes, quantised.astype(np.int8)


def decode(codes: np.ndarray, quantised: np.ndarray, length: int) -> np.ndarray:
    """(scale codes, quantised coefficients) -> float32 16 kHz audio (peak about 1)."""
    steps = _per_bin(_band_steps(codes))
    return imdct(quantised.astype(np.float64) * steps, length).astype(np.float32)


def resample_to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Polyphase resampling (scipy) of a source utterance to SAMPLE_RATE."""
    from math import gcd
    from scipy.signal import resample_poly
    if rate == SAMPLE_RATE:
        return np.asarray(audio, dtype=np.float64)
    g = gcd(SAMPLE_RATE, rate)
    return resample_poly(np.asarray(audio, dtype=np.float64), SAMPLE_RATE // g, rate // g)


def _xz(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                         filters=[{"id": lzma.FILTER_LZMA2, "preset": 9}])


def pack_utterances(path: str, utterances: Sequence[Dict[str, Any]], source: str) -> Dict:
    """Writes the pack of utterances (speech/shard.py dicts, any rate) to path; returns the
    header."""
    coefficient_parts: List[bytes] = []
    scale_parts: List[bytes] = []
    entries = []
    frames_done = 0
    for utterance in utterances:
        audio = resample_to_16k(utterance["audio"], int(utterance["sample_rate"]))
        codes, quantised = encode(audio)
        frames = codes.shape[0]
        # Bin-major (each bin's run over time together) packs about 10 % smaller than
        # frame-major; time differences of the scale codes are small numbers.
        coefficient_parts.append(np.ascontiguousarray(quantised.T).tobytes())
        scale_parts.append(np.diff(codes.astype(np.int16), axis=0, prepend=0)
                           .T.astype(np.int8).tobytes())      # wraps modulo 256
        entry = {key: value for key, value in utterance.items()
                 if key not in ("audio", "offset", "length", "scale", "sample_rate")}
        entry.update(frame_offset=frames_done, frames=frames, length=int(audio.shape[0]),
                     sample_rate=SAMPLE_RATE, source_rate=int(utterance["sample_rate"]))
        entries.append(entry)
        frames_done += frames
    header = {"format": "statestream-mdct-pack", "version": 1, "source": source,
              "sample_rate": SAMPLE_RATE, "hop": HOP, "band_edges": list(BAND_EDGES),
              "scale_step_db": SCALE_STEP_DB, "step_fraction": STEP_FRACTION,
              "floor_db": FLOOR_DB, "total_frames": frames_done,
              "total_seconds": sum(e["length"] for e in entries) / SAMPLE_RATE,
              "utterances": entries}
    header_bytes = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    coefficient_stream = _xz(b"".join(coefficient_parts))
    scale_stream = _xz(b"".join(scale_parts))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = path + ".partial"
    with open(temporary, "wb") as handle:
        handle.write(_PREFIX.pack(MAGIC, len(header_bytes), len(coefficient_stream),
                                  len(scale_stream)))
        handle.write(header_bytes)
        handle.write(coefficient_stream)
        handle.write(scale_stream)
    os.replace(temporary, path)
    return header


def read_pack(path: str):
    """(header, scale codes (total_frames, B) int8, quantised (total_frames, M) int8) of a
    pack, frame-major, utterances one after another (entry["frame_offset"], entry["frames"])."""
    with open(path, "rb") as handle:
        prefix = handle.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise ValueError(f"{path}: truncated: shorter than the {_PREFIX.size}-byte prefix")
        magic, header_length, coefficient_length, scale_length = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise ValueError(f"{path}: not an MDCT speech pack (magic {magic!r}, expected "
                             f"{MAGIC!r}); make one with models/train/asr/mdct_pack.py")
        header = json.loads(handle.read(header_length).decode())
        coefficient_stream = handle.read(coefficient_length)
        scale_stream = handle.read(scale_length)
    if len(scale_stream) != scale_length:
        raise ValueError(f"{path}: truncated: the streams need {coefficient_length + scale_length}"
                         " bytes after the header")
    if tuple(header["band_edges"]) != BAND_EDGES or header["hop"] != HOP or \
            header["step_fraction"] != STEP_FRACTION or header["scale_step_db"] != SCALE_STEP_DB:
        raise ValueError(f"{path}: written with other codec settings than this decoder's "
                         f"(step {header['step_fraction']}, scale step {header['scale_step_db']} "
                         "dB); re-pack it with this mdct_pack.py")
    coefficients = np.frombuffer(lzma.decompress(coefficient_stream), dtype=np.int8)
    scale_steps = np.frombuffer(lzma.decompress(scale_stream), dtype=np.int8)
    bands = len(BAND_EDGES) - 1
    total = header["total_frames"]
    if coefficients.size != total * HOP or scale_steps.size != total * bands:
        raise ValueError(f"{path}: corrupt: streams hold {coefficients.size} coefficients and "
                         f"{scale_steps.size} scale codes for {total} frames")
    codes = np.empty((total, bands), dtype=np.int8)
    quantised = np.empty((total, HOP), dtype=np.int8)
    for entry in header["utterances"]:
        first, frames = entry["frame_offset"], entry["frames"]
        quantised[first:first + frames] = \
            coefficients[first * HOP:(first + frames) * HOP].reshape(HOP, frames).T
        # The differences were wrapped to int8; the codes lie in int8's range, so summing
        # modulo 256 gives them back exactly.
        steps = scale_steps[first * bands:(first + frames) * bands].reshape(bands, frames).T
        codes[first:first + frames] = (np.cumsum(steps.astype(np.int64), axis=0) + 128) % 256 - 128
    return header, codes, quantised


def unpack_file(path: str) -> List[Dict[str, Any]]:
    """All utterances of a pack: dicts with float32 16 kHz "audio" and the source metadata
    (numpy, one utterance at a time; the reference for decode_stream)."""
    header, codes, quantised = read_pack(path)
    out = []
    for entry in header["utterances"]:
        first, frames = entry["frame_offset"], entry["frames"]
        utterance = dict(entry)
        utterance["audio"] = decode(codes[first:first + frames], quantised[first:first + frames],
                                    entry["length"])
        out.append(utterance)
    return out


def decode_stream(codes: np.ndarray, quantised: np.ndarray, device=None):
    """Every frame of a pack at once, in torch on `device`: one float32 waveform of
    (total_frames + 1) * M samples in which utterance e starts at sample
    (e["frame_offset"] + 1) * M. Exact: an utterance's own frames cover its samples, and the
    half-frames where neighbours overlap lie in the silence padded around each utterance."""
    import torch
    scales = torch.from_numpy(codes.astype(np.int64)).to(device)
    rms = torch.pow(10.0, scales.double() * SCALE_STEP_DB / 20.0)
    steps = torch.where(scales == SILENT_BAND, torch.zeros_like(rms), rms * STEP_FRACTION)
    widths = torch.tensor(np.diff(BAND_EDGES), device=steps.device)
    per_bin = torch.repeat_interleave(steps, widths, dim=1).float()
    coefficients = torch.from_numpy(quantised.astype(np.float32)).to(device) * per_bin
    basis = torch.from_numpy((_BASIS * _WINDOW[:, None]).T.astype(np.float32)).to(device)
    blocks = coefficients @ basis                                         # (F, 2M)
    frames = blocks.shape[0]
    out = torch.zeros((frames + 1) * HOP, dtype=torch.float32, device=blocks.device)
    out[:frames * HOP] += blocks[:, :HOP].reshape(-1)
    out[HOP:] += blocks[:, HOP:].reshape(-1)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shards", nargs="+", help="speech shards (.ssc) to re-pack, one pack each")
    parser.add_argument("--out", required=True, help="folder for the packs (NAME.mdct)")
    args = parser.parse_args(argv)
    from speech.shard import read_shard
    for shard in args.shards:
        started = time.time()
        utterances = read_shard(shard)
        target = os.path.join(args.out, os.path.splitext(os.path.basename(shard))[0] + ".mdct")
        header = pack_utterances(target, utterances, os.path.basename(shard))
        size = os.path.getsize(target)
        print(f"{shard} -> {target}: {len(utterances)} utterances, "
              f"{header['total_seconds'] / 60:.1f} min, {size} bytes "
              f"({size / header['total_seconds']:.0f} B/s; source {os.path.getsize(shard)} bytes)"
              f", {time.time() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
