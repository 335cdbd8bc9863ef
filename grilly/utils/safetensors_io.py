"""Reading ``.safetensors`` files with NumPy alone (no torch, no safetensors package): an 8-byte header length,
a JSON header naming each tensor's dtype, shape and byte range, then the raw little-endian data.

>>> import numpy as np, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
>>> save_safetensors(path, {"w": np.arange(6, dtype=np.float32).reshape(2, 3)})
>>> load_safetensors(path)["w"].tolist()
[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
"""

from __future__ import annotations

import json
import os
import struct

import ml_dtypes
import numpy as np

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16, "I64": np.int64,
    "I32": np.int32, "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16,
    "U8": np.uint8, "BOOL": np.bool_,
}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


def load_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a read-only NumPy array backed by a memory map."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise TypeError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        lo, hi = info["data_offsets"]
        out[name] = np.asarray(data[lo:hi]).view(_DTYPES[info["dtype"]]).reshape(tuple(info["shape"]))
    return out


def save_safetensors(path: str | os.PathLike, tensors: dict) -> None:
    """Write a dict of arrays (NumPy, grilly or anything ``np.asarray`` takes) as a safetensors file."""
    arrays = {k: np.array(np.asarray(v), order="C") for k, v in tensors.items()}  # 0-d arrays stay 0-d
    header, offset = {}, 0
    for k, a in arrays.items():
        header[k] = {"dtype": _CODES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the format aligns the data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for a in arrays.values():
            f.write(a.tobytes())
