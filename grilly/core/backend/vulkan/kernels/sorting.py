"""sort / argsort / top_k: a stable bitonic sort of (order-preserving key, index) pairs per row."""

from __future__ import annotations

import math

import numpy as np

from grilly.core.aval import ShapedArray
from grilly.core.backend.vulkan.kernels.common import bits, code, launch, pack, register
from grilly.core.backend.vulkan.kernels.structural import contiguous_strides, strided_copy

LOCAL_WG = 256
SELECT_MAX_K = 64  # top_k selects (registers + shared-memory merges) for k up to this ...
SELECT_MIN_ROW = 2 * LOCAL_WG + 1  # ... on rows too long for one shared-memory sort; else it sorts the rows
SELECT_PER_INVOCATION = 32  # elements each invocation scans per pass at least (a slice is this times the workgroup)
SELECT_PER_INVOCATION_MAX = 1024  # ... and at most
SELECT_WORKGROUPS = 2048  # longer shares while a pass still has this many workgroups
SELECT_SAMPLE_MIN_ROW = 1 << 16  # rows this long select over a sample first ...
SELECT_SAMPLE = 1 << 14  # ... of about this many entries


def _move_last(rt, x, axis):
    """x with ``axis`` moved last (copied when it is not last already)."""
    nd = len(x.shape)
    if axis == nd - 1 or all(s == 1 for i, s in enumerate(x.shape) if i > axis):
        return x, None
    perm = [i for i in range(nd) if i != axis] + [axis]
    shape = [x.shape[p] for p in perm]
    st = contiguous_strides(x.shape)
    t = rt.empty(ShapedArray(shape, x.dtype))
    strided_copy(rt, x, t, shape, [st[p] for p in perm], contiguous_strides(shape))
    return t, perm


def _move_back(rt, y, perm, out):
    """Undo ``_move_last`` from y into the contiguous buffer ``out``."""
    inv = list(np.argsort(perm))
    st = contiguous_strides(y.shape)
    strided_copy(rt, y, out, out.shape, [st[i] for i in inv], contiguous_strides(out.shape))


def sorted_keys(rt, x, descending: bool):
    """Sort the rows of x ([M, K], last axis) and return (keys buffer [M, P] of (key, index), M, K, P)."""
    K = x.shape[-1] if x.shape else 1
    M = math.prod(x.shape) // K if K else 0
    P = 1 << max(1, (K - 1).bit_length())
    keys = rt.empty(ShapedArray((M, P, 2), np.uint32))
    launch(rt, f"sort_init_{code('sort', x.dtype)}", M * P, pack("QQIIII", x.addr, keys.addr, M, K, P,
                                                                 int(descending)), (x,), (keys,))
    wg = min(LOCAL_WG, P // 2)
    L = 2 * wg
    blocks = M * (P // L)
    rt.dispatch("sort_local", (wg,), rt.grid(blocks), pack("QIIII", keys.addr, M, P, 0, 1), (keys,), (keys,))
    k = 2 * L
    while k <= P:
        j = k // 2
        while j >= L:
            launch(rt, "sort_step", M * P // 2, pack("QIIII", keys.addr, M, P, k, j), (keys,), (keys,))
            j //= 2
        rt.dispatch("sort_local", (wg,), rt.grid(blocks), pack("QIIII", keys.addr, M, P, k, 0), (keys,), (keys,))
        k *= 2
    return keys, M, K, P


def _finish(rt, x, keys, M, K, P, kout, vals, idx):
    pc = pack("QQQQIIII", x.addr, keys.addr, vals.addr if vals is not None else 0,
              idx.addr if idx is not None else 0, M, K, P, kout)
    outs = tuple(b for b in (vals, idx) if b is not None)
    launch(rt, f"sort_finish_b{bits(x.dtype)}", M * kout, pc, (x, keys), outs)


def _sort_like(want_values: bool):
    def impl(rt, bufs, out_avals, *, dimension, descending):
        x, av = bufs[0], out_avals[0]
        out = rt.empty(av)
        if not math.prod(av.shape):
            return [out]
        xs, perm = _move_last(rt, x, dimension)
        keys, M, K, P = sorted_keys(rt, xs, descending)
        tmp = out if perm is None else rt.empty(ShapedArray(xs.shape, av.dtype))
        _finish(rt, xs, keys, M, K, P, K, tmp if want_values else None, None if want_values else tmp)
        if perm is not None:
            _move_back(rt, tmp, perm, out)
        return [out]

    return impl


def _select_pass(rt, name, src, M, K, k, kc, wg, thr=None, thr_stride=0):
    """One selection pass: rows of K entries of ``src`` -> the best k (key, index) pairs of each slice, [M, S, k].

    Each invocation scans ``per`` entries, then the workgroup merges its lists (log2(wg) rounds through shared
    memory). The merge costs the same whatever ``per`` is, so ``per`` grows while there are enough workgroups
    (``SELECT_WORKGROUPS``) to fill the device: few rows of long scores scan longer shares. ``thr``: the [M, 1, k]
    result of a pass over every ``thr_stride``-th entry of each row, which bounds what may be kept."""
    per = max(SELECT_PER_INVOCATION, 2 * kc)
    while per < SELECT_PER_INVOCATION_MAX and M * -(-K // (wg * per * 2)) >= SELECT_WORKGROUPS:
        per *= 2
    slice_ = wg * per
    S = -(-K // slice_)
    out = rt.empty(ShapedArray((M, S, k, 2), np.uint32))
    rt.dispatch(name, (wg, kc, wg * kc), rt.grid(M * S),
                pack("QQQIIIIII", src.addr, out.addr, thr.addr if thr is not None else 0, M, K, S, slice_, k,
                     thr_stride), (src,) if thr is None else (src, thr), (out,))
    return out, S


def select_top_k(rt, x, k: int):
    """(key, index) pairs [M, 1, k] of the k best entries of each row of x, best first, by selection passes:
    slices of each row to k candidates each, then the candidates again until one slice holds a whole row. Rows
    of at least ``SELECT_SAMPLE_MIN_ROW`` entries first select over a strided sample of about
    ``SELECT_SAMPLE`` entries, whose k-th best bounds what the full pass keeps."""
    K = x.shape[-1]
    M = math.prod(x.shape) // K
    kc = 1 << max(0, (k - 1).bit_length())
    fit = rt.limits["maxShared"] // (8 * kc)  # invocations whose lists fit shared memory (a power of 2: tree merge)
    wg = min(256, 1 << (fit.bit_length() - 1))
    name = f"select_{code('top_k', x.dtype)}"
    thr, stride = None, 0
    if K >= SELECT_SAMPLE_MIN_ROW and K // SELECT_SAMPLE >= 2:
        stride = K // SELECT_SAMPLE
        ns = K // stride
        sample = rt.empty(ShapedArray((M, ns), x.dtype))
        strided_copy(rt, x, sample, [M, ns], [K, stride], [ns, 1])
        thr = _reduce_candidates(rt, *_select_pass(rt, name, sample, M, ns, k, kc, wg), M, k, kc, wg)
    cand, S = _select_pass(rt, name, x, M, K, k, kc, wg, thr, stride)
    return _reduce_candidates(rt, cand, S, M, k, kc, wg)


def _reduce_candidates(rt, cand, S, M, k, kc, wg):
    while S > 1:
        cand, S = _select_pass(rt, "select_keys", cand, M, S * k, k, kc, wg)
    return cand


def use_select(k: int, row: int) -> bool:
    """Whether top_k selects (small k over long rows) rather than sorting every row."""
    return 0 < k <= SELECT_MAX_K and row >= SELECT_MIN_ROW


def _top_k(rt, bufs, out_avals, *, k):
    x = bufs[0]
    vals, idx = rt.empty(out_avals[0]), rt.empty(out_avals[1])
    if not math.prod(out_avals[0].shape):
        return [vals, idx]
    K = x.shape[-1]
    if use_select(k, K):
        keys, M, P = select_top_k(rt, x, k), math.prod(x.shape) // K, k
    else:
        keys, M, K, P = sorted_keys(rt, x, True)
    _finish(rt, x, keys, M, K, P, k, vals, idx)
    return [vals, idx]


def register_sorting() -> None:
    from grilly.lax import sorting as S

    register(S.sort_p, _sort_like(True))
    register(S.argsort_p, _sort_like(False))
    register(S.top_k_p, _top_k)
