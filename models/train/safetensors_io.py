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


_FORMATS = {"F32": ("f", 4), "F64": ("d", 8)}


def write_safetensors(path: str, tensors: Sequence[Tuple[str, List[int], Sequence[float]]],
                      metadata: Dict[str, str], dtype: str = "F32") -> int:
    """Writes tensors of one dtype (F32 for models, F64 for fixtures) in the given order;
    returns the file size in bytes."""
    code, width = _FORMATS[dtype]
    header: Dict[str, object] = {"__metadata__": dict(metadata)}
    blobs = []
    offset = 0
    for name, shape, values in tensors:
        count = 1
        for extent in shape:
            count *= extent
        if count != len(values):
            raise ValueError(f"{name}: shape {shape} holds {count} values, got {len(values)}")
        blob = struct.pack(f"<{count}{code}", *values)
        header[name] = {"dtype": dtype, "shape": list(shape),
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
    """Reads an F32/F64 safetensors file: (metadata, {name: (shape, values)})."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + header_len])
    data = raw[8 + header_len:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] not in _FORMATS:
            raise ValueError(f"{path}: tensor {name} is {entry['dtype']}, expected F32 or F64")
        code, width = _FORMATS[entry["dtype"]]
        begin, end = entry["data_offsets"]
        count = (end - begin) // width
        tensors[name] = (entry["shape"], list(struct.unpack_from(f"<{count}{code}", data, begin)))
    return metadata, tensors
