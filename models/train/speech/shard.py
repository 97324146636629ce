"""Speech corpus shard: many utterances with transcripts in one compact file.

A shard has to travel to a training machine that has numpy but no audio libraries, so this
module depends only on numpy and the Python standard library and can be copied on its own.

Layout (all integers little-endian):

    offset  size  field
    0       8     magic b"SSPEECH\\0"
    8       4     format version (uint32), currently 1
    12      4     header length H in bytes (uint32)
    16      8     payload length P in bytes (uint64)
    24      4     CRC-32 of the header bytes (uint32)
    28      4     CRC-32 of the payload bytes (uint32)
    32      H     header: UTF-8 JSON
    32+H    P     payload: xz (lzma) stream of uint8 mu-law codes, every utterance back to
                  back (xz delta + LZMA2 filters; any xz decoder reads it)

Audio codec: each utterance is peak-normalised to [-1, 1] (the peak is stored as `scale`),
mapped through the mu-law curve (mu = 255) and quantised to the codes 1..255, where 128 is
exact zero. Silence therefore stays exactly zero and compresses to almost nothing. The
absolute error of a decoded sample of the normalised waveform is at most
(|x| + 1/mu) * ((1 + mu) ** (1 / 254) - 1), about 2.2 % of (|x| + 1/255): speech quality
roughly like telephone mu-law, which is enough for training data from synthetic voices.

The JSON header holds "utterances", a list with one object per utterance: offset and length
(in samples = bytes of the decoded payload), sample_rate, scale, text (normalised
transcript), voice (spec string), split, sentence_id and any further keys the writer was
given (they are kept as they are).
"""
import json
import lzma
import os
import struct
import zlib
from typing import Any, Dict, Iterable, List, Optional

import numpy as np

MAGIC = b"SSPEECH\0"
FORMAT_VERSION = 1
MU = 255
CODEC_NAME = "mulaw8"
# Codes 1..255 span [-1, 1]; 128 is zero. Code 0 is never written.
ZERO_CODE = 128
CODE_STEPS = 127

_PREFIX = struct.Struct("<8sIIQII")
REQUIRED_KEYS = ("sample_rate", "text", "voice", "split", "sentence_id")


class ShardError(ValueError):
    """A shard file is missing, truncated, corrupt or of an unknown format."""


def mulaw_encode(normalised: np.ndarray) -> np.ndarray:
    """Codes (uint8, 1..255) of a waveform already scaled into [-1, 1]."""
    x = np.clip(np.asarray(normalised, dtype=np.float64), -1.0, 1.0)
    compressed = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    return (ZERO_CODE + np.rint(compressed * CODE_STEPS)).astype(np.uint8)


def _decode_table() -> np.ndarray:
    """Float32 value of every code; a lookup table makes decoding one indexing pass."""
    codes = np.arange(256, dtype=np.float64)
    compressed = np.clip((codes - ZERO_CODE) / CODE_STEPS, -1.0, 1.0)
    values = np.sign(compressed) * np.expm1(np.abs(compressed) * np.log1p(MU)) / MU
    return values.astype(np.float32)


_DECODE_TABLE = _decode_table()


def mulaw_decode(codes: np.ndarray) -> np.ndarray:
    """Normalised float32 waveform in [-1, 1] from uint8 codes."""
    return _DECODE_TABLE[np.asarray(codes, dtype=np.uint8)]


def mulaw_error_bound(normalised: np.ndarray) -> np.ndarray:
    """Largest possible |decode(encode(x)) - x| for each sample x of a normalised waveform."""
    half_step_growth = (1.0 + MU) ** (1.0 / (2 * CODE_STEPS)) - 1.0
    return (np.abs(np.asarray(normalised, dtype=np.float64)) + 1.0 / MU) * half_step_growth


def _compress(codes: bytes) -> bytes:
    # Measured on rendered speech: xz's delta filter (neighbouring codes are correlated) plus
    # LZMA2 preset 9 with a literal model for 8-bit samples (lc=4, lp=0, pb=0) packs about
    # 9 % smaller than plain preset 9. lzma.decompress reads the filter chain from the stream.
    filters = [{"id": lzma.FILTER_DELTA, "dist": 1},
               {"id": lzma.FILTER_LZMA2, "preset": 9, "lc": 4, "lp": 0, "pb": 0}]
    return lzma.compress(codes, format=lzma.FORMAT_XZ, check=lzma.CHECK_NONE, filters=filters)


def write_shard(path: str, utterances: Iterable[Dict[str, Any]],
                info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Pack utterances into one shard file at path and return its header.

    Each utterance is a dict with "audio" (1-D float array at any level; it is peak-normalised
    here) and the keys of REQUIRED_KEYS; other JSON-serialisable keys are stored unchanged.
    `info` lands in the header as "info" (for example how the shard was made). The file is
    written under a temporary name and renamed, so a crash never leaves a half shard behind.
    """
    entries: List[Dict[str, Any]] = []
    pieces: List[bytes] = []
    offset = 0
    for index, utterance in enumerate(utterances):
        missing = [key for key in ("audio",) + REQUIRED_KEYS if key not in utterance]
        if missing:
            raise ValueError(f"utterance {index} lacks {', '.join(missing)}")
        audio = np.asarray(utterance["audio"], dtype=np.float64)
        if audio.ndim != 1 or audio.size == 0:
            raise ValueError(f"utterance {index}: audio must be a non-empty 1-D array")
        if not np.all(np.isfinite(audio)):
            raise ValueError(f"utterance {index}: audio has NaN or infinite samples")
        peak = float(np.max(np.abs(audio)))
        scale = peak if peak > 0.0 else 1.0
        codes = mulaw_encode(audio / scale).tobytes()
        entry = {key: value for key, value in utterance.items() if key != "audio"}
        entry.update(offset=offset, length=len(codes), scale=scale,
                     sample_rate=int(utterance["sample_rate"]))
        entries.append(entry)
        pieces.append(codes)
        offset += len(codes)

    header = {
        "format": "statestream-speech-shard",
        "version": FORMAT_VERSION,
        "codec": {"name": CODEC_NAME, "mu": MU, "zero_code": ZERO_CODE, "steps": CODE_STEPS},
        "compression": "xz",
        "total_samples": offset,
        "total_seconds": sum(e["length"] / e["sample_rate"] for e in entries),
        "info": info or {},
        "utterances": entries,
    }
    header_bytes = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    payload = _compress(b"".join(pieces))
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes), len(payload),
                          zlib.crc32(header_bytes), zlib.crc32(payload))
    temporary = f"{path}.partial"
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(temporary, "wb") as handle:
        handle.write(prefix)
        handle.write(header_bytes)
        handle.write(payload)
    os.replace(temporary, path)
    return header


def _read_prefix_and_header(path: str, handle) -> tuple:
    prefix = handle.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size:
        raise ShardError(f"{path}: truncated: {len(prefix)} bytes, shorter than the "
                         f"{_PREFIX.size}-byte shard prefix")
    magic, version, header_length, payload_length, header_crc, payload_crc = \
        _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ShardError(f"{path}: not a speech shard (magic {magic!r}, expected {MAGIC!r})")
    if version != FORMAT_VERSION:
        raise ShardError(f"{path}: shard format version {version}; this reader knows "
                         f"version {FORMAT_VERSION}")
    header_bytes = handle.read(header_length)
    if len(header_bytes) < header_length:
        raise ShardError(f"{path}: truncated: header should be {header_length} bytes, "
                         f"file has {len(header_bytes)}")
    if zlib.crc32(header_bytes) != header_crc:
        raise ShardError(f"{path}: corrupt: header checksum mismatch")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ShardError(f"{path}: corrupt: header is not valid JSON ({error})") from None
    return header, payload_length, payload_crc


def read_shard_header(path: str) -> Dict[str, Any]:
    """The JSON header of a shard (all metadata, no audio); cheap, reads only the front."""
    try:
        with open(path, "rb") as handle:
            header, _, _ = _read_prefix_and_header(path, handle)
    except OSError as error:
        raise ShardError(f"{path}: cannot read shard ({error.strerror})") from None
    return header


def read_shard(path: str, restore_level: bool = False) -> List[Dict[str, Any]]:
    """All utterances of a shard, each a dict with float32 "audio" and its metadata.

    Audio comes back peak-normalised (peak about 1.0), which is what training wants; with
    restore_level=True it is multiplied by the stored scale, back to the level the speech
    engine produced. Raises ShardError, naming the file, for truncated or corrupt files.
    """
    try:
        with open(path, "rb") as handle:
            header, payload_length, payload_crc = _read_prefix_and_header(path, handle)
            payload = handle.read(payload_length)
            trailing = handle.read(1)
    except OSError as error:
        raise ShardError(f"{path}: cannot read shard ({error.strerror})") from None
    if len(payload) < payload_length:
        raise ShardError(f"{path}: truncated: audio payload should be {payload_length} bytes, "
                         f"file has {len(payload)}")
    if trailing:
        raise ShardError(f"{path}: corrupt: unexpected bytes after the audio payload")
    if zlib.crc32(payload) != payload_crc:
        raise ShardError(f"{path}: corrupt: audio payload checksum mismatch")
    try:
        codes = np.frombuffer(lzma.decompress(payload), dtype=np.uint8)
    except lzma.LZMAError as error:
        raise ShardError(f"{path}: corrupt: audio payload does not decompress ({error})") \
            from None
    if codes.size != header.get("total_samples"):
        raise ShardError(f"{path}: corrupt: payload holds {codes.size} samples, header says "
                         f"{header.get('total_samples')}")
    audio = mulaw_decode(codes)

    utterances = []
    for index, entry in enumerate(header.get("utterances", [])):
        start, length = entry.get("offset"), entry.get("length")
        if not isinstance(start, int) or not isinstance(length, int) or start < 0 \
                or length <= 0 or start + length > codes.size:
            raise ShardError(f"{path}: corrupt: utterance {index} lies outside the payload "
                             f"(offset {start}, length {length}, payload {codes.size})")
        samples = audio[start:start + length]
        if restore_level:
            samples = samples * np.float32(entry["scale"])
        else:
            samples = samples.copy()
        utterance = dict(entry)
        utterance["audio"] = samples
        utterances.append(utterance)
    return utterances
