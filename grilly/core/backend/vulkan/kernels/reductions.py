"""Reductions (sum/prod/max/min/and/or over any axes), argmax/argmin and cumulative ops."""

from __future__ import annotations

import math

from grilly.core.aval import ShapedArray
from grilly.core.backend.vulkan.kernels.common import KIND, WG, code, launch, pack, register
from grilly.core.backend.vulkan.kernels.structural import contiguous_strides, strided_copy
from grilly.core.errors import BackendError

ACC = {"f": "f32", "i": "i32", "u": "u32", "b": "bool"}
MAX_LOOP = 32768  # iterations of one invocation's loop (lavapipe stops a loop at 65535)
COL_INVOCATIONS = 1 << 17  # column reductions split their rows until about this many invocations run ...
COL_MIN_CHUNK = 16  # ... each over at least this many rows,
COL_SPLIT_MIN = 1 << 20  # for inputs of at least this many elements (below, one dispatch costs less)
_ACC_DTYPE = {"f32": "float32", "i32": "int32", "u32": "uint32", "bool": "bool"}


def _to_rows(rt, x, axes):
    """x with the reduced axes moved last (a copy only when they are not already trailing): (buf, M, K)."""
    nd = len(x.shape)
    kept = [i for i in range(nd) if i not in axes]
    M = math.prod(x.shape[i] for i in kept)
    K = math.prod(x.shape[i] for i in axes)
    nontrivial = [i for i in range(nd) if x.shape[i] != 1]
    order = [i for i in kept if x.shape[i] != 1] + [i for i in axes if x.shape[i] != 1]
    if order == nontrivial:
        return x, M, K
    perm = kept + list(axes)
    shape = [x.shape[p] for p in perm]
    ist = contiguous_strides(x.shape)
    t = rt.empty(ShapedArray(shape, x.dtype))
    strided_copy(rt, x, t, shape, [ist[p] for p in perm], contiguous_strides(shape))
    return t, M, K


def _leading(x, axes) -> bool:
    """Whether the reduced axes come before every kept axis of size > 1 (a column reduction)."""
    kept = [i for i in range(len(x.shape)) if i not in axes and x.shape[i] != 1]
    red = [i for i in axes if x.shape[i] != 1]
    return bool(kept) and bool(red) and max(red) < min(kept)


def _columns(rt, name, x, out, M, K, c) -> None:
    """out[m] = reduce_k x[k, m]. Few columns would leave most of the device idle with one long loop each: the
    rows are then split into G chunks (partial results in x's dtype, when that is its own accumulator type, so
    nothing is rounded in between), reduced again as G rows by a second pass."""
    G = 1
    if c in ("f32", "i32", "u32") and K >= 2 * COL_MIN_CHUNK and M * K >= COL_SPLIT_MIN:
        G = max(1, min(-(-COL_INVOCATIONS // M), K // COL_MIN_CHUNK))
    if G == 1:
        launch(rt, name, M, pack("QQIIII", x.addr, out.addr, M, K, K, 1), (x,), (out,))
        return
    chunk = -(-K // G)
    G = -(-K // chunk)
    part = rt.empty(ShapedArray((G, M), x.dtype))
    launch(rt, name, M * G, pack("QQIIII", x.addr, part.addr, M, K, chunk, G), (x,), (part,))
    launch(rt, name, M, pack("QQIIII", part.addr, out.addr, M, G, G, 1), (part,), (out,))


def _reducer(op: str):
    name = f"reduce_{op}"

    def impl(rt, bufs, out_avals, *, axes):
        x, av = bufs[0], out_avals[0]
        c = code(name, x.dtype)
        out = rt.empty(av)
        M = math.prod(av.shape)
        if not M:
            return [out]
        if not axes or math.prod(x.shape[i] for i in axes) == 1 and x.nbytes:
            return [x.alias(av.dtype, av.shape)]
        if _leading(x, axes) and math.prod(x.shape[i] for i in axes) <= MAX_LOOP:
            _columns(rt, f"reduce_col_{op}_{c}", x, out, M, math.prod(x.shape[i] for i in axes), c)
            return [out]
        src, M, K = _to_rows(rt, x, axes)
        # enough workgroups to fill a large GPU (~2048), each looping at least 4 times and at most MAX_LOOP
        G = 1 if K <= 8 * WG else max(1, min(4096, -(-2048 // M), -(-K // (4 * WG))), -(-K // (WG * MAX_LOOP)))
        if G == 1:
            rt.dispatch(f"reduce_row_{op}_{c}_{c}", (WG,), rt.grid(M), pack("QQIIII", src.addr, out.addr, M, K,
                                                                              K, 1), (src,), (out,))
            return [out]
        acc = ACC[KIND[c]]
        part = rt.empty(ShapedArray((M, G), _ACC_DTYPE[acc]))
        chunk = -(-K // G)
        rt.dispatch(f"reduce_row_{op}_{c}_{acc}", (WG,), rt.grid(M * G),
                    pack("QQIIII", src.addr, part.addr, M, K, chunk, G), (src,), (part,))
        rt.dispatch(f"reduce_row_{op}_{acc}_{c}", (WG,), rt.grid(M), pack("QQIIII", part.addr, out.addr, M, G, G, 1),
                    (part,), (out,))
        return [out]

    return impl


def _arg(op: str):
    def impl(rt, bufs, out_avals, *, axis, index_dtype):
        x, av = bufs[0], out_avals[0]
        if av.dtype.name != "int32":
            raise BackendError(f"'{op}' on Vulkan returns int32 indices, got index_dtype={av.dtype}")
        c = code(op, x.dtype)
        out = rt.empty(av)
        src, M, K = _to_rows(rt, x, (axis,))
        if M:
            rt.dispatch(f"{op}_{c}", (WG,), rt.grid(M), pack("QQII", src.addr, out.addr, M, K), (src,), (out,))
        return [out]

    return impl


SEGMENT = 256  # steps per invocation in a segmented scan; longer axes take three passes


def cumulative(rt, op: str, x, out, outer: int, K: int, inner: int, reverse: bool) -> None:
    """out = the cumulative ``op`` of x ([outer, K, inner]) along K: one sequential pass for short axes; else
    segments of SEGMENT steps, a scan of the segment totals (recursively) and a pass folding them in."""
    c = code(f"cum{op}", x.dtype)
    n = outer * inner
    if not n or not K:
        return
    if K <= 8 * SEGMENT:
        pc = pack("QQQIIIIII", x.addr, out.addr, 0, outer, K, inner, int(reverse), K, 1)
        launch(rt, f"cum{op}_{c}", n, pc, (x,), (out,))
        return
    S = max(SEGMENT, -(-K // MAX_LOOP))
    nseg = -(-K // S)
    acc = _ACC_DTYPE[ACC[KIND[c]]]
    tot = rt.empty(ShapedArray((outer, nseg, inner), acc))
    pc = pack("QQQIIIIII", x.addr, out.addr, tot.addr, outer, K, inner, int(reverse), S, nseg)
    launch(rt, f"cum{op}_{c}", n * nseg, pc, (x,), (out, tot))
    pre = rt.empty(ShapedArray((outer, nseg, inner), acc))
    cumulative(rt, op, tot, pre, outer, nseg, inner, False)
    pc = pack("QQIIIIII", out.addr, pre.addr, outer, K, inner, int(reverse), S, nseg)
    launch(rt, f"cumfix_{op}_{c}", n * K, pc, (out, pre), (out,))


def _cum(op: str):
    def impl(rt, bufs, out_avals, *, axis, reverse):
        x, av = bufs[0], out_avals[0]
        out = rt.empty(av)
        outer, K, inner = math.prod(av.shape[:axis]), av.shape[axis], math.prod(av.shape[axis + 1:])
        cumulative(rt, op, x, out, outer, K, inner, reverse)
        return [out]

    return impl


def register_reductions() -> None:
    from grilly.lax import reductions as R

    for op in ("sum", "prod", "max", "min", "and", "or"):
        register(getattr(R, f"reduce_{op}_p"), _reducer(op))
    register(R.argmax_p, _arg("argmax"))
    register(R.argmin_p, _arg("argmin"))
    for op in ("sum", "prod", "max", "min"):
        register(getattr(R, f"cum{op}_p"), _cum(op))
