"""gather (take along one axis) and scatter (put along one axis with set/add/mul/min/max).

gather(x, idx, axis): out.shape = x.shape[:axis] + idx.shape + x.shape[axis+1:]; indices are clamped into
range. scatter(x, idx, upd, axis, mode): updates of that same shape; out-of-range indices are dropped. With
repeated indices, 'set' keeps one of the values (the last one on NumPy; any one on a GPU).
"""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.primitive import Primitive
from grilly.lax import elementwise as E
from grilly.lax._helpers import aval_of, batch_size, bdim_to_front, full, shape_error
from grilly.lax.structural import broadcast_in_dim, broadcasted_iota, moveaxis, reshape

gather_p = Primitive("gather")


def _gather_abstract(x, idx, *, axis):
    if not 0 <= axis < x.ndim or dtypes.kind(idx.dtype) not in "iu" or x.shape[axis] == 0 and idx.size:
        raise shape_error("gather", [x, idx], f"integer indices into a non-empty axis {axis} of the operand")
    return ShapedArray((*x.shape[:axis], *idx.shape, *x.shape[axis + 1:]), x.dtype)


def _gather_np(x, idx, *, axis):
    if x.shape[axis] == 0:
        return np.zeros((*x.shape[:axis], *idx.shape, *x.shape[axis + 1:]), x.dtype)
    return np.take(x, np.clip(idx, 0, x.shape[axis] - 1), axis=axis)


def _gather_jvp(primals, tangents, *, axis):
    out = gather_p.bind(*primals, axis=axis)
    t = tangents[0]
    return [out], [None if t is None else gather_p.bind(t, primals[1], axis=axis)]


def _gather_vjp(cts, primals, outs, *, axis):
    x, idx = primals
    if cts[0] is None:
        return [None, None]
    n = x.shape[axis]
    clamped = E.max_(E.min_(idx, full(idx.shape, n - 1, idx.dtype)), full(idx.shape, 0, idx.dtype))
    return [scatter_p.bind(full(x.shape, 0, x.dtype), clamped, cts[0], axis=axis, mode="add"), None]


def _merge_batch(x, idx, axis):
    """x batched at 0, idx batched at 0: fold the batch into the axis so one gather serves every member."""
    xa = aval_of(x)
    b, n = xa.shape[0], xa.shape[axis + 1]
    x = moveaxis(x, 0, axis)  # (..., B, n, ...) : batch right before the axis
    xm = reshape(x, (*xa.shape[1:axis + 1], b * n, *xa.shape[axis + 2:]))
    ia = aval_of(idx)
    offs = E.mul(broadcasted_iota(idx.dtype, ia.shape, 0), full(ia.shape, n, idx.dtype))
    clamped = E.max_(E.min_(idx, full(ia.shape, n - 1, idx.dtype)), full(ia.shape, 0, idx.dtype))
    return xm, E.add(clamped, offs)


def _gather_batch(vals, dims, *, axis):
    (x, idx), (xd, idd) = vals, dims
    if idd is None:
        x = moveaxis(x, xd, 0)
        return [gather_p.bind(x, idx, axis=axis + 1)], [0]
    if xd is None:
        out = gather_p.bind(x, moveaxis(idx, idd, 0), axis=axis)
        return [out], [axis]
    size = batch_size(vals, dims)
    xm, im = _merge_batch(bdim_to_front(x, xd, size), bdim_to_front(idx, idd, size), axis)
    return [gather_p.bind(xm, im, axis=axis)], [axis]


P.abstract_eval_rules[gather_p] = _gather_abstract
P.impl_rules["numpy"][gather_p] = _gather_np
P.jvp_rules[gather_p] = _gather_jvp
P.vjp_rules[gather_p] = _gather_vjp
P.batch_rules[gather_p] = _gather_batch

# ---- scatter --------------------------------------------------------------------------------------------------

scatter_p = Primitive("scatter")
SCATTER_MODES = ("set", "add", "mul", "min", "max")


def _scatter_abstract(x, idx, upd, *, axis, mode):
    want = (*x.shape[:axis], *idx.shape, *x.shape[axis + 1:]) if 0 <= axis < x.ndim else None
    if want is None or upd.shape != want or dtypes.kind(idx.dtype) not in "iu" or upd.dtype != x.dtype:
        raise shape_error("scatter", [x, idx, upd], f"integer indices and updates of shape {want} and the "
                          "operand's dtype")
    if mode not in SCATTER_MODES:
        raise ValueError(f"scatter: mode must be one of {SCATTER_MODES}, got {mode!r}")
    return x


def _scatter_np(x, idx, upd, *, axis, mode):
    out = np.moveaxis(x.copy(), axis, 0)
    n = out.shape[0]
    flat_idx = idx.reshape(-1).astype(np.int64)
    u = np.moveaxis(upd.reshape(*x.shape[:axis], idx.size, *x.shape[axis + 1:]), axis, 0)
    keep = (flat_idx >= 0) & (flat_idx < n)
    flat_idx, u = flat_idx[keep], u[keep]
    if mode == "set":
        out[flat_idx] = u
    else:
        ufunc = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}[mode]
        ufunc.at(out, flat_idx, u)
    return np.moveaxis(out, 0, axis)


def _scatter_jvp(primals, tangents, *, axis, mode):
    x, idx, upd = primals
    out = scatter_p.bind(x, idx, upd, axis=axis, mode=mode)
    tx, tu = tangents[0], tangents[2]
    if tx is None and tu is None:
        return [out], [None]
    tx = full(x.shape, 0, x.dtype) if tx is None else tx
    tu = full(upd.shape, 0, upd.dtype) if tu is None else tu
    if mode in ("set", "add"):
        return [out], [scatter_p.bind(tx, idx, tu, axis=axis, mode=mode)]
    # mul/min/max: d out = tx * d out/d x + scattered tu * d out/d upd, through the VJP's weights
    wx, wu = _scatter_weights(x, idx, upd, out, axis, mode)
    t = E.add(E.mul(tx, wx), scatter_p.bind(full(x.shape, 0, x.dtype), idx, E.mul(tu, wu), axis=axis, mode="add"))
    return [out], [t]


def _scatter_weights(x, idx, upd, out, axis, mode):
    """Per-element derivatives of out w.r.t. x (shape of x) and w.r.t. upd (shape of upd)."""
    out_at = gather_p.bind(out, idx, axis=axis)
    if mode == "mul":
        safe = lambda v: E.select(E.eq_(v, full(v.shape, 0, v.dtype)), full(v.shape, 1, v.dtype), v)  # noqa: E731
        return E.div(out, safe(x)), E.div(out_at, safe(upd))
    hit_x = E.convert(E.eq_(x, out), x.dtype)
    hit_u = E.convert(E.eq_(upd, out_at), x.dtype)
    count = E.add(hit_x, scatter_p.bind(full(x.shape, 0, x.dtype), idx, hit_u, axis=axis, mode="add"))
    return E.div(hit_x, count), E.div(hit_u, gather_p.bind(count, idx, axis=axis))


def _gather_kept(ct, idx, axis):
    """gather, with zeros for updates whose index scatter dropped (out of range): they had no effect."""
    g = gather_p.bind(ct, idx, axis=axis)
    ok = E.and_(E.ge_(idx, full(idx.shape, 0, idx.dtype)), E.lt_(idx, full(idx.shape, ct.shape[axis], idx.dtype)))
    ok = broadcast_in_dim(ok, g.shape, tuple(range(axis, axis + len(idx.shape))))
    return E.select(ok, g, full(g.shape, 0, g.dtype))


def _scatter_vjp(cts, primals, outs, *, axis, mode):
    ct, (x, idx, upd) = cts[0], primals
    if ct is None:
        return [None, None, None]
    if mode == "add":
        return [ct, None, _gather_kept(ct, idx, axis)]
    if mode == "set":
        # an element overwritten by an update gets no cotangent; the surviving update takes it
        marker = scatter_p.bind(full(x.shape, 0, x.dtype), idx, full(upd.shape, 1, x.dtype), axis=axis, mode="set")
        ct_x = E.mul(ct, E.sub(full(x.shape, 1, x.dtype), marker))
        return [ct_x, None, _gather_kept(ct, idx, axis)]
    wx, wu = _scatter_weights(x, idx, upd, outs[0], axis, mode)
    return [E.mul(ct, wx), None, E.mul(_gather_kept(ct, idx, axis), wu)]


P.abstract_eval_rules[scatter_p] = _scatter_abstract
P.impl_rules["numpy"][scatter_p] = _scatter_np
P.jvp_rules[scatter_p] = _scatter_jvp
P.vjp_rules[scatter_p] = _scatter_vjp


def _scatter_batch(vals, dims, *, axis, mode):
    (x, idx, upd), (xd, idd, ud) = vals, dims
    size = batch_size(vals, dims)
    x, upd = bdim_to_front(x, xd, size), bdim_to_front(upd, ud, size)
    if idd is None:
        return [scatter_p.bind(x, idx, upd, axis=axis + 1, mode=mode)], [0]
    idx = bdim_to_front(idx, idd, size)
    xa = aval_of(x)
    n = xa.shape[axis + 1]
    xm, im = _merge_batch(x, idx, axis)
    # dropped (out-of-range) indices must stay dropped after the offset: send them past the end
    ia = aval_of(idx)
    bad = E.or_(E.lt_(idx, full(ia.shape, 0, idx.dtype)), E.ge_(idx, full(ia.shape, n, idx.dtype)))
    im = E.select(bad, full(ia.shape, size * n, idx.dtype), im)
    um = moveaxis(upd, 0, axis)  # updates: (..., B, *idx.shape[1:], ...) -> fold B into the index dims
    out = scatter_p.bind(xm, im, um, axis=axis, mode=mode)
    out = reshape(out, (*xa.shape[1:axis + 1], size, n, *xa.shape[axis + 2:]))
    return [moveaxis(out, axis, 0)], [0]


P.batch_rules[scatter_p] = _scatter_batch


def gather(x, indices, axis: int = 0):
    idx = indices if aval_of(indices).dtype == dtypes.int32 else E.convert(indices, dtypes.int32)
    return gather_p.bind(x, idx, axis=int(axis))


def scatter(x, indices, updates, axis: int = 0, mode: str = "set"):
    idx = indices if aval_of(indices).dtype == dtypes.int32 else E.convert(indices, dtypes.int32)
    return scatter_p.bind(x, idx, updates, axis=int(axis), mode=mode)


def take_along_axis(x, indices, axis: int):
    """out[..., i, ...] = x[..., indices[..., i, ...], ...] (indices broadcast against x off the axis)."""
    xa, ia = aval_of(x), aval_of(indices)
    axis = axis % xa.ndim
    shape = tuple(ia.shape[d] if d == axis else max(xa.shape[d], ia.shape[d]) for d in range(xa.ndim))
    idx = broadcast_in_dim(E.convert(indices, dtypes.int32) if ia.dtype != dtypes.int32 else indices, shape,
                           tuple(range(xa.ndim)))
    xshape = tuple(xa.shape[d] if d == axis else shape[d] for d in range(xa.ndim))
    x = broadcast_in_dim(x, xshape, tuple(range(xa.ndim)))
    flat = _flat_index(idx, xshape, axis)
    return gather_p.bind(reshape(x, (-1,) if xa.size else (0,)), flat, axis=0)


def put_along_axis(x, indices, values, axis: int, mode: str = "set"):
    xa = aval_of(x)
    axis = axis % xa.ndim
    ia = aval_of(indices)
    idx = E.convert(indices, dtypes.int32) if ia.dtype != dtypes.int32 else indices
    flat = _flat_index(idx, xa.shape, axis)
    n = xa.shape[axis]
    bad = E.or_(E.lt_(idx, full(ia.shape, 0, dtypes.int32)), E.ge_(idx, full(ia.shape, n, dtypes.int32)))
    flat = E.select(bad, full(ia.shape, xa.size, dtypes.int32), flat)
    vals = broadcast_in_dim(values, ia.shape, tuple(range(ia.ndim))) if aval_of(values).shape != ia.shape else values
    out = scatter_p.bind(reshape(x, (xa.size,)), flat, vals, axis=0, mode=mode)
    return reshape(out, xa.shape)


def _flat_index(idx, shape, axis):
    ia = aval_of(idx)
    n = shape[axis]
    clamped = E.max_(E.min_(idx, full(ia.shape, max(n - 1, 0), dtypes.int32)), full(ia.shape, 0, dtypes.int32))
    strides = np.cumprod((1, *shape[::-1][:-1]))[::-1]
    flat = None
    for d in range(len(shape)):
        coord = clamped if d == axis else broadcasted_iota(dtypes.int32, ia.shape, d)
        term = E.mul(coord, full(ia.shape, int(strides[d]), dtypes.int32))
        flat = term if flat is None else E.add(flat, term)
    return flat



