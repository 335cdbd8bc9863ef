"""Helpers shared by kernel dispatchers: dtype codes, 1-D launches, push-constant packing, registration."""

from __future__ import annotations

import math
import struct

import ml_dtypes
import numpy as np

from grilly.core import primitive as P
from grilly.core.errors import BackendError

WG = 256  # default workgroup size (specialization constant 0)

CODES = {
    np.dtype(np.float32): "f32",
    np.dtype(np.float16): "f16",
    np.dtype(ml_dtypes.bfloat16): "bf16",
    np.dtype(np.int32): "i32",
    np.dtype(np.uint32): "u32",
    np.dtype(np.int16): "i16",
    np.dtype(np.uint16): "u16",
    np.dtype(np.int8): "i8",
    np.dtype(np.uint8): "u8",
    np.dtype(np.bool_): "bool",
}
KIND = {
    "f32": "f",
    "f16": "f",
    "bf16": "f",
    "i32": "i",
    "u32": "u",
    "i16": "i",
    "u16": "u",
    "i8": "i",
    "u8": "u",
    "bool": "b",
}


def code(prim_name: str, dtype, allowed=None) -> str:
    """The shader suffix of ``dtype``; BackendError naming the op when the Vulkan backend lacks it."""
    c = CODES.get(np.dtype(dtype))
    if c is None or (allowed is not None and c not in allowed):
        raise BackendError(
            f"'{prim_name}' has no Vulkan kernel for dtype {np.dtype(dtype)}"
            + (
                " (float64/int64 need shaderFloat64/shaderInt64 kernels, not built)"
                if np.dtype(dtype).itemsize == 8
                else ""
            )
        )
    return c


def bits(dtype) -> int:
    return 8 * np.dtype(dtype).itemsize


def pack(fmt: str, *vals) -> bytes:
    return struct.pack("<" + fmt, *vals)


def launch(rt, name: str, n: int, pc: bytes, reads, writes, wg: int = WG, spec: tuple = ()) -> None:
    """Dispatch ``name`` over ``n`` invocations (no dispatch at all when ``n`` is 0)."""
    if n:
        rt.dispatch(name, (wg, *spec), rt.grid((n + wg - 1) // wg), pc, reads, writes)


def register(prim, impl) -> None:
    P.impl_rules["vulkan"][prim] = impl


def out_like(rt, aval):
    return rt.empty(aval)


def size(aval) -> int:
    return math.prod(aval.shape)
