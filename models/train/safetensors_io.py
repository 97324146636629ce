"""Write and read the safetensors container with the standard library only.

The container is an 8-byte little-endian header length, a JSON header mapping each tensor name
to {dtype, shape, data_offsets} plus "__metadata__" (strings only), then the tensor bytes. The
C++ reader is models/safetensors_file.cpp; this module writes exactly what it accepts, without
needing the safetensors package, so the tiny CI model can be rebuilt on any machine.
"""
import json
import struct
from typing import Dict, List, Sequence, Tuple

# Tensors are float32; the header is padded with spaces so the data section starts 8-byte
# aligned, as the reference implementation does, so every float sits at its natural alignment.
_ALIGN = 8


def write_safetensors(path: str, tensors: Sequence[Tuple[str, List[int], Sequence[float]]],
                      metadata: Dict[str, str]) -> int:
    """Writes float32 tensors in the given order; returns the file size in bytes."""
    header: Dict[str, object] = {"__metadata__": dict(metadata)}
    blobs = []
    offset = 0
    for name, shape, values in tensors:
        count = 1
        for extent in shape:
            count *= extent
        if count != len(values):
            raise ValueError(f"{name}: shape {shape} holds {count} values, got {len(values)}")
        blob = struct.pack(f"<{count}f", *values)
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % _ALIGN)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)
    return 8 + len(text) + offset


def read_safetensors(path: str) -> Tuple[Dict[str, str], Dict[str, Tuple[List[int], List[float]]]]:
    """Reads a float32 safetensors file: (metadata, {name: (shape, values)})."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + header_len])
    data = raw[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        count = (end - begin) // 4
        tensors[name] = (entry["shape"], list(struct.unpack_from(f"<{count}f", data, begin)))
    return metadata, tensors
