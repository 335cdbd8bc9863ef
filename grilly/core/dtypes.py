"""Dtypes, the x64 switch and type promotion.

grilly follows JAX: float32 is the default float, int32 the default int, and 64-bit types exist only when
``grilly.config.enable_x64`` is on. bfloat16 is ``ml_dtypes.bfloat16``, a real NumPy dtype.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

float16 = np.dtype(np.float16)
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = np.dtype(np.int16)
uint16 = np.dtype(np.uint16)
int32 = np.dtype(np.int32)
uint32 = np.dtype(np.uint32)
int64 = np.dtype(np.int64)
uint64 = np.dtype(np.uint64)
bool_ = np.dtype(np.bool_)


class _Config:
    """Global switches (``grilly.config.update("enable_x64", True)`` as in JAX)."""

    def __init__(self):
        self.enable_x64 = False
        self.debug_nans = False

    def update(self, name: str, value) -> None:
        name = name.removeprefix("jax_").removeprefix("grilly_")
        if not hasattr(self, name):
            raise ValueError(f"unknown config option {name!r}; known: enable_x64, debug_nans")
        setattr(self, name, value)


config = _Config()

FLOATS = (float16, bfloat16, float32, float64)
SUPPORTED = (float16, bfloat16, float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64, bool_)


def is_float(dtype) -> bool:
    return np.dtype(dtype) in FLOATS


def kind(dtype) -> str:
    """NumPy's kind letter, except "f" for bfloat16 (an ml_dtypes type whose NumPy kind is "V")."""
    d = np.dtype(dtype)
    return "f" if d == bfloat16 else d.kind


def is_int(dtype) -> bool:
    d = np.dtype(dtype)
    return d.kind in "iu"


def is_unsigned(dtype) -> bool:
    return np.dtype(dtype).kind == "u"


def canonicalize(dtype) -> np.dtype:
    """Map a requested dtype to the one grilly stores (64-bit types narrow unless x64 is on)."""
    if dtype is None:  # the default float, as jnp.zeros: float64 once x64 is on
        return float64 if config.enable_x64 else float32
    if dtype is float:
        dtype = float64 if config.enable_x64 else float32
    elif dtype is int:
        dtype = int64 if config.enable_x64 else int32
    elif dtype is bool:
        dtype = bool_
    d = np.dtype(dtype)
    if not config.enable_x64:
        d = {float64: float32, int64: int32, uint64: uint32, np.dtype(np.complex128): np.dtype(np.complex64)}.get(d, d)
    if d not in SUPPORTED:
        raise TypeError(f"grilly does not support dtype {d}; supported: {', '.join(map(str, SUPPORTED))}")
    return d


def default_float() -> np.dtype:
    return float64 if config.enable_x64 else float32


def default_int() -> np.dtype:
    return int64 if config.enable_x64 else int32


def short_name(dtype) -> str:
    d = np.dtype(dtype)
    if d == bfloat16:
        return "bf16"
    if d == bool_:
        return "bool"
    return {"f": "f", "i": "i", "u": "u"}[d.kind] + str(8 * d.itemsize)


def finfo(dtype):
    return ml_dtypes.finfo(dtype) if np.dtype(dtype) == bfloat16 else np.finfo(dtype)


def iinfo(dtype):
    return np.iinfo(dtype)


def _lattice_rank(d: np.dtype) -> tuple[int, int]:
    return ({"b": 0, "u": 1, "i": 2, "f": 3}[d.kind], d.itemsize)


def result_type(*dtypes, weak: tuple[bool, ...] | None = None) -> np.dtype:
    """Promote dtypes as JAX does: Python scalars (weak) never widen an array's dtype."""
    weak = weak or (False,) * len(dtypes)
    strong = [np.dtype(d) for d, w in zip(dtypes, weak) if not w]
    weaks = [np.dtype(d) for d, w in zip(dtypes, weak) if w]
    if not strong:
        return canonicalize(np.result_type(*weaks)) if weaks else float32
    out = strong[0]
    for d in strong[1:]:
        out = _promote_pair(out, d)
    for d in weaks:  # a weak float makes an int array float; otherwise the array wins
        if d.kind == "f" and out.kind in "biu":
            out = default_float()
        elif d.kind in "iu" and out.kind == "b":
            out = default_int()
    return canonicalize(out)


def _promote_pair(a: np.dtype, b: np.dtype) -> np.dtype:
    if a == b:
        return a
    if bfloat16 in (a, b):
        other = b if a == bfloat16 else a
        if other.kind == "f" and other != float16:
            return other
        return float32 if other == float16 else bfloat16
    if a.kind == "f" and b.kind in "biu":  # JAX's lattice: any float absorbs bools and ints (i32 + f16 -> f16)
        return a
    if b.kind == "f" and a.kind in "biu":
        return b
    return np.promote_types(a, b)
