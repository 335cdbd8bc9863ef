"""Data movement through one strided-copy kernel: reshape (free), transpose, broadcast_in_dim, slice, rev, pad,
concatenate, dynamic_slice, dynamic_update_slice; and iota."""

from __future__ import annotations

import math

from grilly.core.backend.vulkan.kernels.common import bits, code, launch, pack, register
from grilly.core.errors import BackendError

MAXD = 6
MAX_Z = 65535  # workgroups along z per dispatch


def contiguous_strides(shape) -> list[int]:
    st, acc = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        st[d], acc = acc, acc * shape[d]
    return st


def _collapse(shape, istr, ostr):
    """Drop size-1 dims and merge neighbours that are contiguous in both input and output."""
    dims = [(n, a, b) for n, a, b in zip(shape, istr, ostr, strict=False) if n != 1]
    out: list[list[int]] = []
    for n, a, b in dims:
        if out and out[-1][1] == a * n and out[-1][2] == b * n:
            out[-1] = [out[-1][0] * n, a, b]
        else:
            out.append([n, a, b])
    return out or [[1, 0, 0]]


def strided_copy(rt, src, dst, shape, istr, ostr, in_off=0, out_off=0, dyn=None) -> None:
    """dst[out_off + i.ostr] = src[in_off + i.istr] for every index i of ``shape`` (elements, not bytes)."""
    n = math.prod(shape)
    if not n:
        return
    dims = _collapse(shape, istr, ostr)
    if dyn is None and not in_off and not out_off and _tiled_transpose(rt, src, dst, dims):
        return
    if len(dims) > MAXD:
        raise BackendError(f"strided copy over {len(dims)} non-mergeable dimensions (the kernel takes {MAXD})")
    pad = MAXD - len(dims)
    sh = [d[0] for d in dims] + [1] * pad
    ist = [d[1] for d in dims] + [0] * pad
    ost = [d[2] for d in dims] + [0] * pad
    pc = pack("QQQIIii6I6i6i", src.addr, dst.addr, dyn.addr if dyn is not None else 0, n, len(dims), in_off,
              out_off, *sh, *ist, *ost)
    reads = (src,) if dyn is None else (src, dyn)
    launch(rt, f"copy_strided_b{bits(dst.dtype)}", n, pc, reads, (dst,))


def _tiled_transpose(rt, src, dst, dims) -> bool:
    """Runs copy_transpose.comp when the copy is a (batched) matrix transpose of contiguous arrays: input (Z, R, C)
    to output (Z, C, R). Returns whether it did."""
    if len(dims) == 3:
        (z, zi, zo), (c, ci, co), (r, ri, ro) = dims
        if zi != zo or zi != r * c:
            return False
    elif len(dims) == 2:
        z = 1
        (c, ci, co), (r, ri, ro) = dims
    else:
        return False
    # the output's innermost dim walks the input's rows; its outer one the input's contiguous columns
    if not (ro == 1 and ri == c and ci == 1 and co == r) or min(r, c) < 2:
        return False
    transpose_matrices(rt, src, dst, z, r, c)
    return True


def transpose_matrices(rt, src, dst, Z: int, R: int, C: int) -> None:
    """dst[z, c, r] = src[z, r, c] for contiguous (Z, R, C) and (Z, C, R) arrays, through 32 x 32 shared tiles."""
    for z0 in range(0, Z, MAX_Z):
        pc = pack("QQIII", src.addr, dst.addr, R, C, z0)
        rt.dispatch(f"copy_transpose_b{bits(dst.dtype)}", (), (-(-C // 32), -(-R // 32), min(MAX_Z, Z - z0)), pc,
                    (src,), (dst,))


def _transpose(rt, bufs, out_avals, *, permutation):
    x, av = bufs[0], out_avals[0]
    in_shape = [av.shape[permutation.index(d)] for d in range(len(permutation))]
    ist = contiguous_strides(in_shape)
    out = rt.empty(av)
    strided_copy(rt, x, out, av.shape, [ist[p] for p in permutation], contiguous_strides(av.shape))
    return [out]


def _broadcast_in_dim(rt, bufs, out_avals, *, shape, broadcast_dimensions):
    x, av = bufs[0], out_avals[0]
    if math.prod(x.shape) == math.prod(shape):  # only size-1 dims were added: same bytes
        return [x.alias(av.dtype, av.shape)]
    ist_x = contiguous_strides(x.shape)
    ist = [0] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        ist[d] = ist_x[i] if x.shape[i] != 1 else 0
    out = rt.empty(av)
    strided_copy(rt, x, out, shape, ist, contiguous_strides(shape))
    return [out]


def _reshape(rt, bufs, out_avals, **_):
    return [bufs[0].alias(out_avals[0].dtype, out_avals[0].shape)]


WINDOW_ALIGN = 256  # a contiguous slice starting at a multiple of this many bytes is a window, not a copy


def _contiguous_run(shape, start, limit, strides):
    """The element offset of a slice that is one contiguous run of its operand (leading axes of extent 1, then
    one axis cut to a range, then whole axes), else None."""
    if strides is not None and any(s != 1 for s in strides):
        return None
    k = 0
    while k < len(shape) and limit[k] - start[k] == 1:
        k += 1
    if any(start[j] != 0 or limit[j] != shape[j] for j in range(k + 1, len(shape))):
        return None
    return sum(a * s for a, s in zip(contiguous_strides(shape), start, strict=True))


def _slice(rt, bufs, out_avals, *, start_indices, limit_indices, strides):
    x, av = bufs[0], out_avals[0]
    off = _contiguous_run(x.shape, start_indices, limit_indices, strides)
    nbytes = math.prod(av.shape) * av.dtype.itemsize
    if off is not None and nbytes and x.block is not None and off * av.dtype.itemsize % WINDOW_ALIGN == 0:
        # arrays are immutable: a row range (a scan step's input, x[i]) is read in place, with no copy
        return [x.window(off * av.dtype.itemsize, nbytes, av.dtype, av.shape)]
    ist = contiguous_strides(x.shape)
    strides = strides or (1,) * len(ist)
    out = rt.empty(av)
    istr = [a * s for a, s in zip(ist, strides, strict=False)]
    in_off = sum(a * s for a, s in zip(ist, start_indices, strict=False))
    strided_copy(rt, x, out, av.shape, istr, contiguous_strides(av.shape), in_off=in_off)
    return [out]


def _rev(rt, bufs, out_avals, *, dimensions):
    x, av = bufs[0], out_avals[0]
    ist = contiguous_strides(av.shape)
    off = sum(ist[d] * (av.shape[d] - 1) for d in dimensions if av.shape[d])
    istr = [-s if d in dimensions else s for d, s in enumerate(ist)]
    out = rt.empty(av)
    strided_copy(rt, x, out, av.shape, istr, contiguous_strides(av.shape), in_off=off)
    return [out]


def _concatenate(rt, bufs, out_avals, *, dimension):
    av = out_avals[0]
    out = rt.empty(av)
    ost = contiguous_strides(av.shape)
    pos = 0
    for b in bufs:
        shape = list(b.shape)
        k = shape[dimension]
        strided_copy(rt, b, out, shape, contiguous_strides(shape), ost, out_off=pos * ost[dimension])
        pos += k
    return [out]


def _pad(rt, bufs, out_avals, *, padding_config):
    x, padval = bufs[0], bufs[1]
    av = out_avals[0]
    out = rt.empty(av)
    ost = contiguous_strides(av.shape)
    strided_copy(rt, padval, out, av.shape, [0] * len(ost), ost)  # fill with the padding value
    in_shape = x.shape
    ist = contiguous_strides(in_shape)
    # elements of x that land inside the output: skip those cropped by negative low/high padding
    shape, in_off, out_off, istr, ostr = [], 0, 0, [], []
    for d, (n, (lo, _hi, it)) in enumerate(zip(in_shape, padding_config, strict=False)):
        step = it + 1
        first = 0 if lo >= 0 else (-lo + step - 1) // step  # first input index with a position >= 0
        last = n - 1  # last input index with a position < out size
        while last >= first and lo + last * step >= av.shape[d]:
            last -= 1
        cnt = max(last - first + 1, 0)
        shape.append(cnt)
        in_off += first * ist[d]
        out_off += (lo + first * step) * ost[d] if cnt else 0
        istr.append(ist[d])
        ostr.append(step * ost[d])
    strided_copy(rt, x, out, shape, istr, ostr, in_off=in_off, out_off=out_off)
    return [out]


def _dyn_offsets(rt, idx, limits, strides, which):
    """A 2-int device buffer [read offset, write offset] computed from scalar index buffers on the GPU."""
    keep = [(i, lim, st) for i, lim, st in zip(idx, limits, strides, strict=False) if lim > 0]
    if len(keep) > MAXD:
        raise BackendError(f"dynamic slicing along {len(keep)} dimensions at once (the kernel takes {MAXD})")
    import numpy as np

    from grilly.core.aval import ShapedArray

    off = rt.empty(ShapedArray((2,), np.int32))
    pad = MAXD - len(keep)
    addrs = [k[0].addr for k in keep] + [0] * pad
    for k in keep:
        if k[0].dtype != np.int32:
            raise BackendError(f"dynamic_slice indices on Vulkan must be int32, got {k[0].dtype}")
    pc = pack("Q6QII6i6i", off.addr, *addrs, len(keep), which, *[k[1] for k in keep], *[0] * pad,
              *[k[2] for k in keep], *[0] * pad)
    rt.dispatch("copy_dyn_offset", (), (1, 1, 1), pc, tuple(k[0] for k in keep), (off,))
    return off


def _dynamic_slice(rt, bufs, out_avals, *, slice_sizes):
    x, idx, av = bufs[0], bufs[1:], out_avals[0]
    out = rt.empty(av)
    if not math.prod(av.shape):
        return [out]
    in_shape = x.shape
    ist = contiguous_strides(in_shape)
    off = _dyn_offsets(rt, idx, [n - s for n, s in zip(in_shape, slice_sizes, strict=False)], ist, 0)
    strided_copy(rt, x, out, av.shape, ist, contiguous_strides(av.shape), dyn=off)
    return [out]


def _dynamic_update_slice(rt, bufs, out_avals):
    x, upd, idx = bufs[0], bufs[1], bufs[2:]
    av = out_avals[0]
    out = rt.empty(av)
    if not math.prod(av.shape):
        return [out]
    rt.stream.copy(x.block.buffer, x.offset, out.block.buffer, out.offset, x.nbytes, [x], [out])
    ushape = upd.shape
    if not math.prod(ushape):
        return [out]
    ost = contiguous_strides(av.shape)
    off = _dyn_offsets(rt, idx, [n - s for n, s in zip(av.shape, ushape, strict=False)], ost, 1)
    strided_copy(rt, upd, out, ushape, contiguous_strides(ushape), ost, dyn=off)
    return [out]


def _iota(rt, bufs, out_avals, *, dtype, shape, dimension):
    av = out_avals[0]
    out = rt.empty(av)
    n = math.prod(shape)
    inner = math.prod(shape[dimension + 1:])
    launch(rt, f"iota_{code('iota', dtype)}", n, pack("QIII", out.addr, n, inner, max(shape[dimension], 1)), (),
           (out,))
    return [out]


def register_structural() -> None:
    from grilly.lax import structural as S

    register(S.reshape_p, _reshape)
    register(S.transpose_p, _transpose)
    register(S.broadcast_in_dim_p, _broadcast_in_dim)
    register(S.slice_p, _slice)
    register(S.rev_p, _rev)
    register(S.concatenate_p, _concatenate)
    register(S.pad_p, _pad)
    register(S.dynamic_slice_p, _dynamic_slice)
    register(S.dynamic_update_slice_p, _dynamic_update_slice)
    register(S.iota_p, _iota)
