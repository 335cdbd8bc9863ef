"""dot_general through one batched, tiled matmul kernel with strided operands; conv_general_dilated lowers to
im2col (strided copies) + that matmul."""

from __future__ import annotations

import math

import numpy as np

from grilly.core.aval import ShapedArray
from grilly.core.backend.vulkan.kernels.common import code, pack, register
from grilly.core.backend.vulkan.kernels.structural import _pad, contiguous_strides, strided_copy
from grilly.core.errors import BackendError

MAX_Z = 65535
# (workgroup size, BM, BN, BK, TM, TN)
TILE_LARGE = (256, 64, 64, 16, 4, 4)
TILE_SMALL = (256, 32, 32, 16, 2, 2)


def _group_stride(shape, strides, dims):
    """The single element stride of ``dims`` taken together (row-major), or None when they do not merge."""
    dims = [d for d in dims if shape[d] != 1]
    if not dims:
        return 0
    for a, b in zip(dims, dims[1:], strict=False):
        if strides[a] != strides[b] * shape[b]:
            return None
    return strides[dims[-1]]


def _layout(rt, x, groups):
    """(buffer, [stride per group]) with each group of dims addressed by one stride; copies when needed."""
    st = contiguous_strides(x.shape)
    out = [_group_stride(x.shape, st, g) for g in groups]
    if all(s is not None for s in out):
        return x, out
    perm = [d for g in groups for d in g]
    shape = [x.shape[d] for d in perm]
    t = rt.empty(ShapedArray(shape, x.dtype))
    strided_copy(rt, x, t, shape, [st[d] for d in perm], contiguous_strides(shape))
    tst = contiguous_strides(shape)
    res, i = [], 0
    for g in groups:
        res.append(_group_stride(shape, tst, list(range(i, i + len(g)))))
        i += len(g)
    return t, res


def matmul(rt, a, b, out, batch: int, M: int, N: int, K: int, sa, sb, offs=(0, 0, 0), scb=None) -> None:
    """out[z*scb + m*N + n] = sum_k a[z*sa0 + m*sa1 + k*sa2] * b[z*sb0 + k*sb1 + n*sb2].

    ``offs`` are element offsets into a, b and out; ``scb`` defaults to M*N (out contiguous [batch, M, N]).
    """
    if not batch * M * N:
        return
    ca, co = code("dot_general", a.dtype), code("dot_general", out.dtype)
    tile = TILE_LARGE if M >= 64 and N >= 64 else TILE_SMALL
    _, BM, BN = tile[:3]
    name = f"matmul_{ca}_{co}"
    for z0 in range(0, batch, MAX_Z):
        pc = pack("QQQIIIIiiiiiiIIII", a.addr, b.addr, out.addr, M, N, K, z0, sa[0], sa[1], sa[2], sb[0], sb[1],
                  sb[2], M * N if scb is None else scb, *offs)
        groups = (-(-N // BN), -(-M // BM), min(MAX_Z, batch - z0))
        rt.dispatch(name, tile, groups, pc, (a, b), (out,))


def _dot_general(rt, bufs, out_avals, *, dimension_numbers, precision=None, preferred_element_type=None):
    x, y = bufs
    av = out_avals[0]
    (lc, rc), (lb, rb) = dimension_numbers
    lf = [i for i in range(len(x.shape)) if i not in lc and i not in lb]
    rf = [i for i in range(len(y.shape)) if i not in rc and i not in rb]
    out = rt.empty(av)
    if x.dtype != y.dtype:
        raise BackendError(f"dot_general on Vulkan needs operands of one dtype, got {x.dtype} and {y.dtype}")
    xb, (sab, sam, sak) = _layout(rt, x, [list(lb), lf, list(lc)])
    yb, (sbb, sbk, sbn) = _layout(rt, y, [list(rb), list(rc), rf])
    batch = math.prod(x.shape[i] for i in lb)
    M = math.prod(x.shape[i] for i in lf)
    K = math.prod(x.shape[i] for i in lc)
    N = math.prod(y.shape[i] for i in rf)
    matmul(rt, xb, yb, out, batch, M, N, K, (sab, sam, sak), (sbb, sbk, sbn))
    return [out]


def _conv(rt, bufs, out_avals, *, window_strides, padding, lhs_dilation, rhs_dilation, feature_group_count,
          precision=None):
    lhs, rhs = bufs
    av = out_avals[0]
    out = rt.empty(av)
    if not math.prod(av.shape):
        return [out]
    x = lhs
    if any(lo or hi for lo, hi in padding) or any(d != 1 for d in lhs_dilation):
        zero = rt.upload(np.zeros((), lhs.dtype))
        cfg = ((0, 0, 0), (0, 0, 0), *((lo, hi, d - 1) for (lo, hi), d in zip(padding, lhs_dilation, strict=True)))
        pshape = ShapedArray((*lhs.shape[:2], *(_dilate(n, d) + lo + hi for n, (lo, hi), d in zip(
            lhs.shape[2:], padding, lhs_dilation, strict=True))), lhs.dtype)
        x = _pad(rt, [lhs, zero], [pshape], padding_config=cfg)[0]
    n, c = x.shape[:2]
    o, cg = rhs.shape[:2]
    g = feature_group_count
    win, osp = list(rhs.shape[2:]), list(av.shape[2:])
    st = contiguous_strides(x.shape)
    shape = [n, c, *win, *osp]  # im2col: cols[n, c, w..., o...] = x[n, c, o*stride + w*dilation ...]
    istr = [st[0], st[1], *(rd * st[2 + i] for i, rd in enumerate(rhs_dilation)),
            *(s * st[2 + i] for i, s in enumerate(window_strides))]
    cols = rt.empty(ShapedArray(shape, x.dtype))
    strided_copy(rt, x, cols, shape, istr, contiguous_strides(shape))
    OS, W = math.prod(osp), math.prod(win)
    og, K = o // g, cg * W
    for gi in range(g):  # out[n, gi*og + m, os] = sum_k rhs[gi*og + m, k] * cols[n, gi*cg*W + k, os]
        matmul(rt, rhs, cols, out, n, og, OS, K, (0, K, 1), (c * W * OS, OS, 1),
               offs=(gi * og * K, gi * K * OS, gi * og * OS), scb=o * OS)
    return [out]


def _dilate(n: int, d: int) -> int:
    return 0 if n == 0 else 1 + d * (n - 1)


def register_linalg() -> None:
    from grilly.lax import linalg as L

    register(L.dot_general_p, _dot_general)
    register(L.conv_general_dilated_p, _conv)
