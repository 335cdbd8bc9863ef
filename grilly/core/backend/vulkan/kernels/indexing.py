"""gather (take along an axis, clamped indices) and scatter (set/add/mul/min/max, out-of-range dropped)."""

from __future__ import annotations

import math

import numpy as np

from grilly.core.aval import ShapedArray
from grilly.core.backend.vulkan.kernels.common import bits, code, launch, pack, register


def _index(rt, idx, op):
    """int32 or uint32 index buffer and its suffix (narrower integer indices are widened on the GPU)."""
    c = code(op, idx.dtype, ("i32", "u32", "i16", "u16", "i8", "u8"))
    if c in ("i32", "u32"):
        return idx, c
    wide = rt.empty(ShapedArray(idx.shape, np.int32))
    n = math.prod(idx.shape)
    launch(rt, f"convert_{c}_i32", n, pack("QQI", idx.addr, wide.addr, n), (idx,), (wide,))
    return wide, "i32"


def _gather(rt, bufs, out_avals, *, axis):
    x, idx = bufs
    av = out_avals[0]
    out = rt.empty(av)
    n = math.prod(av.shape)
    if not n or x.shape[axis] == 0:
        return [out]
    idx, ic = _index(rt, idx, "gather")
    _O, N, R = math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:])
    I = math.prod(idx.shape)
    launch(rt, f"gather_b{bits(x.dtype)}_{ic}", n, pack("QQQIIII", x.addr, idx.addr, out.addr, n, I, R, N),
           (x, idx), (out,))
    return [out]


def _scatter(rt, bufs, out_avals, *, axis, mode):
    x, idx, upd = bufs
    av = out_avals[0]
    out = rt.empty(av)
    if not x.nbytes:
        return [out]
    rt.stream.copy(x.block.buffer, x.offset, out.block.buffer, out.offset, x.nbytes, [x], [out])
    n = math.prod(upd.shape)
    if not n:
        return [out]
    idx, ic = _index(rt, idx, "scatter")
    N, R = x.shape[axis], math.prod(x.shape[axis + 1:])
    I = math.prod(idx.shape)
    c = code("scatter", x.dtype)
    name = f"scatter_set_b{bits(x.dtype)}_{ic}" if mode == "set" else f"scatter_{mode}_{c}_{ic}"
    launch(rt, name, n, pack("QQQQIIII", upd.addr, idx.addr, out.addr, out.addr, n, I, R, N), (upd, idx, out),
           (out,))
    return [out]


def register_indexing() -> None:
    from grilly.lax import gather_scatter as G

    register(G.gather_p, _gather)
    register(G.scatter_p, _scatter)
