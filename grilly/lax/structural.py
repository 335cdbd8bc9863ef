"""Shape-changing primitives: broadcast, reshape, transpose, rev, concatenate, pad, slices, iota."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.primitive import Primitive
from grilly.lax._helpers import (
    aval_of,
    batch_size,
    bdim_to_front,
    defnondiff,
    dtype_error,
    full,
    moveaxis,
    shape_error,
)


def deflinear_unary(prim, transpose):
    """A primitive linear in its one operand: the JVP applies it to the tangent; the VJP is ``transpose``."""

    def jvp(primals, tangents, **params):
        out = prim.bind(primals[0], **params)
        return [out], [None if tangents[0] is None else prim.bind(tangents[0], **params)]

    def vjp(cts, primals, outs, **params):
        return [None if cts[0] is None else transpose(cts[0], primals[0], **params)]

    P.jvp_rules[prim], P.vjp_rules[prim] = jvp, vjp


def loop_batch(prim):
    """Batching by unrolling over the batch: correct for any primitive, used where a direct rule is awkward."""

    def rule(vals, dims, **params):
        size = batch_size(vals, dims)
        fronts = [v if d is None else moveaxis(v, d, 0) for v, d in zip(vals, dims)]
        per = []
        for i in range(size):
            args = [v if d is None else index_axis0(v, i) for v, d in zip(fronts, dims)]
            out = prim.bind(*args, **params)
            per.append(out if prim.multiple_results else [out])
        outs = [stack0([p[k] for p in per]) for k in range(len(per[0]))]
        return outs, [0] * len(outs)

    return rule


def index_axis0(x, i: int):
    av = aval_of(x)
    s = slice_p.bind(x, start_indices=(i,) + (0,) * (av.ndim - 1), limit_indices=(i + 1, *av.shape[1:]),
                     strides=None)
    return reshape(s, av.shape[1:])


def stack0(xs):
    av = aval_of(xs[0])
    return concatenate([reshape(x, (1, *av.shape)) for x in xs], 0)


# ---- broadcast_in_dim ---------------------------------------------------------------------------------------

broadcast_in_dim_p = Primitive("broadcast_in_dim")


def _broadcast_in_dim_abstract(x, *, shape, broadcast_dimensions):
    ok = len(broadcast_dimensions) == x.ndim and all(
        0 <= d < len(shape) and x.shape[i] in (1, shape[d]) for i, d in enumerate(broadcast_dimensions)
    ) and list(broadcast_dimensions) == sorted(set(broadcast_dimensions))
    if not ok:
        raise shape_error("broadcast_in_dim", [x], f"an operand that broadcasts to {shape} along dimensions "
                          f"{broadcast_dimensions}")
    return ShapedArray(shape, x.dtype)


def _broadcast_in_dim_np(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    from grilly.lax.reductions import reduce_sum

    new_dims = tuple(d for d in range(len(shape)) if d not in broadcast_dimensions)
    stretched = tuple(d for i, d in enumerate(broadcast_dimensions) if x.shape[i] == 1 and shape[d] != 1)
    summed = reduce_sum(ct, tuple(sorted(new_dims + stretched))) if new_dims or stretched else ct
    return reshape(summed, x.shape)


def _broadcast_in_dim_batch(vals, dims, *, shape, broadcast_dimensions):
    x = moveaxis(vals[0], dims[0], 0)
    b = aval_of(x).shape[0]
    return [broadcast_in_dim(x, (b, *shape), (0, *(d + 1 for d in broadcast_dimensions)))], [0]


P.abstract_eval_rules[broadcast_in_dim_p] = _broadcast_in_dim_abstract
P.impl_rules["numpy"][broadcast_in_dim_p] = _broadcast_in_dim_np
deflinear_unary(broadcast_in_dim_p, _broadcast_in_dim_transpose)
P.batch_rules[broadcast_in_dim_p] = _broadcast_in_dim_batch


def broadcast_in_dim(x, shape, broadcast_dimensions):
    shape, bd = tuple(int(s) for s in shape), tuple(int(d) for d in broadcast_dimensions)
    if aval_of(x).shape == shape and bd == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bd)


def broadcast_to(x, shape):
    av = aval_of(x)
    shape = tuple(shape)
    if len(shape) < av.ndim:
        raise shape_error("broadcast_to", [av], f"a rank of at most {len(shape)} to broadcast to {shape}")
    return broadcast_in_dim(x, shape, tuple(range(len(shape) - av.ndim, len(shape))))


# ---- reshape ------------------------------------------------------------------------------------------------

reshape_p = Primitive("reshape")


def _reshape_abstract(x, *, new_sizes):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size or any(s < 0 for s in new_sizes):
        raise shape_error("reshape", [x], f"an operand of {int(np.prod(new_sizes))} elements for shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype)


def _reshape_batch(vals, dims, *, new_sizes):
    x = moveaxis(vals[0], dims[0], 0)
    return [reshape(x, (aval_of(x).shape[0], *new_sizes))], [0]


P.abstract_eval_rules[reshape_p] = _reshape_abstract
P.impl_rules["numpy"][reshape_p] = lambda x, *, new_sizes: x.reshape(new_sizes)
deflinear_unary(reshape_p, lambda ct, x, *, new_sizes: reshape(ct, x.shape))
P.batch_rules[reshape_p] = _reshape_batch


def reshape(x, new_sizes):
    av = aval_of(x)
    new_sizes = tuple(int(s) for s in new_sizes)
    if -1 in new_sizes:
        known = int(np.prod([s for s in new_sizes if s != -1], dtype=np.int64))
        if new_sizes.count(-1) > 1 or known == 0 or av.size % known:
            raise shape_error("reshape", [av], f"a shape compatible with {new_sizes}")
        new_sizes = tuple(av.size // known if s == -1 else s for s in new_sizes)
    return x if av.shape == new_sizes else reshape_p.bind(x, new_sizes=new_sizes)


def squeeze(x, dimensions):
    av = aval_of(x)
    dims = {d % max(av.ndim, 1) for d in dimensions}
    if any(av.shape[d] != 1 for d in dims):
        raise shape_error("squeeze", [av], f"size-1 dimensions at {sorted(dims)}")
    return reshape(x, tuple(s for i, s in enumerate(av.shape) if i not in dims))


def expand_dims(x, dimensions):
    av = aval_of(x)
    nd = av.ndim + len(dimensions)
    dims = sorted(d % nd for d in dimensions)
    shape = list(av.shape)
    for d in dims:
        shape.insert(d, 1)
    return reshape(x, shape)


# ---- transpose ----------------------------------------------------------------------------------------------

transpose_p = Primitive("transpose")


def _transpose_abstract(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise shape_error("transpose", [x], f"a permutation of {list(range(x.ndim))}, got {permutation}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype)


def _transpose_batch(vals, dims, *, permutation):
    x = moveaxis(vals[0], dims[0], 0)
    return [transpose(x, (0, *(p + 1 for p in permutation)))], [0]


P.abstract_eval_rules[transpose_p] = _transpose_abstract
P.impl_rules["numpy"][transpose_p] = lambda x, *, permutation: np.transpose(x, permutation)
deflinear_unary(transpose_p, lambda ct, x, *, permutation: transpose(ct, tuple(np.argsort(permutation))))
P.batch_rules[transpose_p] = _transpose_batch


def transpose(x, permutation):
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


# ---- rev ----------------------------------------------------------------------------------------------------

rev_p = Primitive("rev")


def _rev_abstract(x, *, dimensions):
    if any(not 0 <= d < x.ndim for d in dimensions):
        raise shape_error("rev", [x], f"dimensions within rank {x.ndim}, got {dimensions}")
    return x


def _rev_batch(vals, dims, *, dimensions):
    x = moveaxis(vals[0], dims[0], 0)
    return [rev(x, tuple(d + 1 for d in dimensions))], [0]


P.abstract_eval_rules[rev_p] = _rev_abstract
P.impl_rules["numpy"][rev_p] = lambda x, *, dimensions: np.flip(x, dimensions) if dimensions else x
deflinear_unary(rev_p, lambda ct, x, *, dimensions: rev(ct, dimensions))
P.batch_rules[rev_p] = _rev_batch


def rev(x, dimensions):
    dims = tuple(sorted(int(d) % max(aval_of(x).ndim, 1) for d in dimensions))
    return x if not dims else rev_p.bind(x, dimensions=dims)


# ---- concatenate --------------------------------------------------------------------------------------------

concatenate_p = Primitive("concatenate")


def _concatenate_abstract(*xs, dimension):
    if not xs:
        raise shape_error("concatenate", [], "at least one operand")
    first = xs[0]
    if not 0 <= dimension < max(first.ndim, 0) or any(
        x.ndim != first.ndim or any(x.shape[i] != first.shape[i] for i in range(x.ndim) if i != dimension)
        for x in xs
    ):
        raise shape_error("concatenate", xs, f"operands of one rank, equal except along dimension {dimension}")
    if any(x.dtype != first.dtype for x in xs):
        raise dtype_error("concatenate", xs, "operands of one dtype")
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, first.dtype)


def _concatenate_jvp(primals, tangents, *, dimension):
    out = concatenate_p.bind(*primals, dimension=dimension)
    if all(t is None for t in tangents):
        return [out], [None]
    ts = [full(p.shape, 0, p.dtype) if t is None else t for p, t in zip(primals, tangents)]
    return [out], [concatenate_p.bind(*ts, dimension=dimension)]


def _concatenate_vjp(cts, primals, outs, *, dimension):
    ct = cts[0]
    if ct is None:
        return [None] * len(primals)
    res, start = [], 0
    for p in primals:
        n = p.shape[dimension]
        starts = [0] * p.ndim
        limits = list(ct.shape)
        starts[dimension], limits[dimension] = start, start + n
        res.append(slice_(ct, starts, limits))
        start += n
    return res


def _concatenate_batch(vals, dims, *, dimension):
    size = batch_size(vals, dims)
    return [concatenate_p.bind(*[bdim_to_front(v, d, size) for v, d in zip(vals, dims)],
                               dimension=dimension + 1)], [0]


P.abstract_eval_rules[concatenate_p] = _concatenate_abstract
P.impl_rules["numpy"][concatenate_p] = lambda *xs, dimension: np.concatenate(xs, axis=dimension)
P.jvp_rules[concatenate_p] = _concatenate_jvp
P.vjp_rules[concatenate_p] = _concatenate_vjp
P.batch_rules[concatenate_p] = _concatenate_batch


def concatenate(xs, dimension: int):
    xs = list(xs)
    return xs[0] if len(xs) == 1 else concatenate_p.bind(*xs, dimension=int(dimension))


# ---- pad ----------------------------------------------------------------------------------------------------

pad_p = Primitive("pad")


def _pad_out_shape(shape, config):
    return tuple(lo + hi + n + max(n - 1, 0) * interior for n, (lo, hi, interior) in zip(shape, config))


def _pad_abstract(x, padval, *, padding_config):
    if padval.shape != () or padval.dtype != x.dtype:
        raise shape_error("pad", [x, padval], "a scalar padding value of the operand's dtype")
    if len(padding_config) != x.ndim or any(i < 0 for _, _, i in padding_config):
        raise shape_error("pad", [x], f"one (low, high, interior>=0) triple per dimension, got {padding_config}")
    out = _pad_out_shape(x.shape, padding_config)
    if any(s < 0 for s in out):
        raise shape_error("pad", [x], f"padding {padding_config} that leaves a non-negative size")
    return ShapedArray(out, x.dtype)


def _pad_np(x, padval, *, padding_config):
    out_shape = _pad_out_shape(x.shape, padding_config)
    big = [max(lo, 0) + max(hi, 0) + n + max(n - 1, 0) * i for n, (lo, hi, i) in zip(x.shape, padding_config)]
    buf = np.full(big, padval, dtype=x.dtype)
    buf[tuple(slice(max(lo, 0), max(lo, 0) + max(n - 1, 0) * (i + 1) + 1 if n else max(lo, 0), i + 1)
              for n, (lo, hi, i) in zip(x.shape, padding_config))] = x
    crop = tuple(slice(max(-lo, 0), max(-lo, 0) + s) for s, (lo, _, _) in zip(out_shape, padding_config))
    return buf[crop]


def _pad_transpose_operand(ct, x, padding_config):
    from grilly.lax.elementwise import convert  # noqa: F401  (keeps import order explicit)

    unneg = [(max(-lo, 0), max(-hi, 0), 0) for lo, hi, _ in padding_config]
    if any(a or b for a, b, _ in unneg):
        ct = pad(ct, full((), 0, ct.dtype), unneg)
    starts = [max(lo, 0) for lo, _, _ in padding_config]
    limits = [s + max(n - 1, 0) * (i + 1) + (1 if n else 0) for s, n, (_, _, i) in zip(starts, x.shape, padding_config)]
    strides = [i + 1 for _, _, i in padding_config]
    return slice_(ct, starts, limits, strides)


def _pad_jvp(primals, tangents, *, padding_config):
    x, pv = primals
    out = pad_p.bind(x, pv, padding_config=padding_config)
    if tangents[0] is None and tangents[1] is None:
        return [out], [None]
    tx = full(x.shape, 0, x.dtype) if tangents[0] is None else tangents[0]
    tp = full((), 0, x.dtype) if tangents[1] is None else tangents[1]
    return [out], [pad_p.bind(tx, tp, padding_config=padding_config)]


def _pad_vjp(cts, primals, outs, *, padding_config):
    from grilly.lax.elementwise import sub
    from grilly.lax.reductions import reduce_sum

    ct, (x, _) = cts[0], primals
    if ct is None:
        return [None, None]
    t_x = _pad_transpose_operand(ct, x, padding_config)
    all_axes = tuple(range(ct.ndim))
    t_pv = sub(reduce_sum(ct, all_axes), reduce_sum(t_x, tuple(range(x.ndim))))
    return [t_x, t_pv]


def _pad_batch(vals, dims, *, padding_config):
    from grilly.lax.elementwise import add, mul

    (x, pv), (xd, pd) = vals, dims
    size = batch_size(vals, dims)
    x = bdim_to_front(x, xd, size)
    cfg = ((0, 0, 0), *padding_config)
    if pd is None:
        return [pad(x, pv, cfg)], [0]
    av = aval_of(x)
    zero = full((), 0, av.dtype)
    mask = pad(full(av.shape, 0, av.dtype), full((), 1, av.dtype), cfg)
    pvb = broadcast_in_dim(moveaxis(pv, pd, 0), aval_of(mask).shape, (0,))
    return [add(pad(x, zero, cfg), mul(mask, pvb))], [0]


P.abstract_eval_rules[pad_p] = _pad_abstract
P.impl_rules["numpy"][pad_p] = _pad_np
P.jvp_rules[pad_p] = _pad_jvp
P.vjp_rules[pad_p] = _pad_vjp
P.batch_rules[pad_p] = _pad_batch


def pad(x, padding_value, padding_config):
    cfg = tuple((int(lo), int(hi), int(i)) for lo, hi, i in padding_config)
    return pad_p.bind(x, padding_value, padding_config=cfg)


# ---- slice --------------------------------------------------------------------------------------------------

slice_p = Primitive("slice")


def _slice_abstract(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    ok = len(start_indices) == len(limit_indices) == len(strides) == x.ndim and all(
        0 <= s <= e <= n and st >= 1 for s, e, n, st in zip(start_indices, limit_indices, x.shape, strides)
    )
    if not ok:
        raise shape_error("slice", [x], f"0 <= start <= limit <= size and stride >= 1 per dimension, got start "
                          f"{start_indices}, limit {limit_indices}, strides {strides}")
    return ShapedArray(tuple(-(-(e - s) // st) for s, e, st in zip(start_indices, limit_indices, strides)), x.dtype)


def _slice_np(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    return x[tuple(slice(s, e, st) for s, e, st in zip(start_indices, limit_indices, strides))]


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    if any(s == 0 for s in ct.shape):
        return full(x.shape, 0, ct.dtype)
    cfg = []
    for n, s, o, st in zip(x.shape, start_indices, ct.shape, strides):
        used = s + (o - 1) * st + 1
        cfg.append((s, n - used, st - 1))
    return pad(ct, full((), 0, ct.dtype), cfg)


def _slice_batch(vals, dims, *, start_indices, limit_indices, strides):
    x = moveaxis(vals[0], dims[0], 0)
    b = aval_of(x).shape[0]
    strides = (1, *strides) if strides else None
    return [slice_p.bind(x, start_indices=(0, *start_indices), limit_indices=(b, *limit_indices),
                         strides=strides)], [0]


P.abstract_eval_rules[slice_p] = _slice_abstract
P.impl_rules["numpy"][slice_p] = _slice_np
deflinear_unary(slice_p, _slice_transpose)
P.batch_rules[slice_p] = _slice_batch


def slice_(x, start_indices, limit_indices, strides=None):
    strides = None if strides is None or all(s == 1 for s in strides) else tuple(int(s) for s in strides)
    start, limit = tuple(int(s) for s in start_indices), tuple(int(s) for s in limit_indices)
    if start == (0,) * len(start) and limit == aval_of(x).shape and strides is None:
        return x
    return slice_p.bind(x, start_indices=start, limit_indices=limit, strides=strides)


def slice_in_dim(x, start, limit, stride=1, axis=0):
    av = aval_of(x)
    starts, limits, strides = [0] * av.ndim, list(av.shape), [1] * av.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, stride
    return slice_(x, starts, limits, strides)


# ---- dynamic_slice / dynamic_update_slice ---------------------------------------------------------------------

dynamic_slice_p = Primitive("dynamic_slice")


def _check_indices(op, x, idx):
    if len(idx) != x.ndim or any(i.shape != () or dtypes.kind(i.dtype) not in "iu" for i in idx):
        raise shape_error(op, [x, *idx], f"{x.ndim} scalar integer start indices")


def _dynamic_slice_abstract(x, *idx, slice_sizes):
    _check_indices("dynamic_slice", x, idx)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape)):
        raise shape_error("dynamic_slice", [x], f"slice sizes within the operand's shape, got {slice_sizes}")
    return ShapedArray(slice_sizes, x.dtype)


def _clamped_starts(x_shape, idx, sizes):
    return tuple(int(np.clip(int(i), 0, n - s)) for i, n, s in zip(idx, x_shape, sizes))


def _dynamic_slice_np(x, *idx, slice_sizes):
    starts = _clamped_starts(x.shape, idx, slice_sizes)
    return x[tuple(slice(s, s + n) for s, n in zip(starts, slice_sizes))]


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    out = dynamic_slice_p.bind(*primals, slice_sizes=slice_sizes)
    t = tangents[0]
    return [out], [None if t is None else dynamic_slice_p.bind(t, *primals[1:], slice_sizes=slice_sizes)]


def _dynamic_slice_vjp(cts, primals, outs, *, slice_sizes):
    x, idx = primals[0], primals[1:]
    if cts[0] is None:
        return [None] * len(primals)
    return [dynamic_update_slice_p.bind(full(x.shape, 0, x.dtype), cts[0], *idx)] + [None] * len(idx)


def _dynamic_slice_batch(vals, dims, *, slice_sizes):
    x, xd = vals[0], dims[0]
    if all(d is None for d in dims[1:]):
        x = moveaxis(x, xd, 0)
        zero = full((), 0, aval_of(vals[1]).dtype if len(vals) > 1 else dtypes.int32)
        b = aval_of(x).shape[0]
        return [dynamic_slice_p.bind(x, zero, *vals[1:], slice_sizes=(b, *slice_sizes))], [0]
    return loop_batch(dynamic_slice_p)(vals, dims, slice_sizes=slice_sizes)


P.abstract_eval_rules[dynamic_slice_p] = _dynamic_slice_abstract
P.impl_rules["numpy"][dynamic_slice_p] = _dynamic_slice_np
P.jvp_rules[dynamic_slice_p] = _dynamic_slice_jvp
P.vjp_rules[dynamic_slice_p] = _dynamic_slice_vjp
P.batch_rules[dynamic_slice_p] = _dynamic_slice_batch

dynamic_update_slice_p = Primitive("dynamic_update_slice")


def _dynamic_update_slice_abstract(x, upd, *idx):
    _check_indices("dynamic_update_slice", x, idx)
    if upd.ndim != x.ndim or any(u > n for u, n in zip(upd.shape, x.shape)) or upd.dtype != x.dtype:
        raise shape_error("dynamic_update_slice", [x, upd], "an update of the operand's rank, dtype and no larger")
    return x


def _dynamic_update_slice_np(x, upd, *idx):
    out = x.copy()
    starts = _clamped_starts(x.shape, idx, upd.shape)
    out[tuple(slice(s, s + n) for s, n in zip(starts, upd.shape))] = upd
    return out


def _dynamic_update_slice_jvp(primals, tangents):
    x, upd, idx = primals[0], primals[1], primals[2:]
    out = dynamic_update_slice_p.bind(*primals)
    tx, tu = tangents[0], tangents[1]
    if tx is None and tu is None:
        return [out], [None]
    tx = full(x.shape, 0, x.dtype) if tx is None else tx
    tu = full(upd.shape, 0, upd.dtype) if tu is None else tu
    return [out], [dynamic_update_slice_p.bind(tx, tu, *idx)]


def _dynamic_update_slice_vjp(cts, primals, outs):
    ct, upd, idx = cts[0], primals[1], primals[2:]
    if ct is None:
        return [None] * len(primals)
    ct_x = dynamic_update_slice_p.bind(ct, full(upd.shape, 0, upd.dtype), *idx)
    ct_u = dynamic_slice_p.bind(ct, *idx, slice_sizes=upd.shape)
    return [ct_x, ct_u] + [None] * len(idx)


def _dynamic_update_slice_batch(vals, dims):
    if all(d is None for d in dims[2:]):
        size = batch_size(vals, dims)
        x, u = bdim_to_front(vals[0], dims[0], size), bdim_to_front(vals[1], dims[1], size)
        zero = full((), 0, aval_of(vals[2]).dtype if len(vals) > 2 else dtypes.int32)
        return [dynamic_update_slice_p.bind(x, u, zero, *vals[2:])], [0]
    return loop_batch(dynamic_update_slice_p)(vals, dims)


P.abstract_eval_rules[dynamic_update_slice_p] = _dynamic_update_slice_abstract
P.impl_rules["numpy"][dynamic_update_slice_p] = _dynamic_update_slice_np
P.jvp_rules[dynamic_update_slice_p] = _dynamic_update_slice_jvp
P.vjp_rules[dynamic_update_slice_p] = _dynamic_update_slice_vjp
P.batch_rules[dynamic_update_slice_p] = _dynamic_update_slice_batch


def _as_index(i):
    from grilly.lax.elementwise import convert

    av = aval_of(i)
    return i if av.dtype == dtypes.int32 else convert(i, dtypes.int32)


def dynamic_slice(x, start_indices, slice_sizes):
    idx = [_as_index(full((), i, dtypes.int32) if isinstance(i, int | np.integer) else i) for i in start_indices]
    return dynamic_slice_p.bind(x, *idx, slice_sizes=tuple(int(s) for s in slice_sizes))


def dynamic_update_slice(x, update, start_indices):
    idx = [_as_index(full((), i, dtypes.int32) if isinstance(i, int | np.integer) else i) for i in start_indices]
    return dynamic_update_slice_p.bind(x, update, *idx)


def dynamic_index_in_dim(x, index, axis=0, keepdims=True):
    av = aval_of(x)
    starts = [0] * av.ndim
    starts[axis] = index
    sizes = list(av.shape)
    sizes[axis] = 1
    out = dynamic_slice(x, starts, sizes)
    return out if keepdims else squeeze(out, (axis,))


def dynamic_update_index_in_dim(x, update, index, axis=0):
    av, uav = aval_of(x), aval_of(update)
    if uav.ndim == av.ndim - 1:
        update = expand_dims(update, (axis,))
    starts = [0] * av.ndim
    starts[axis] = index
    return dynamic_update_slice(x, update, starts)


# ---- iota ---------------------------------------------------------------------------------------------------

iota_p = Primitive("iota")


def _iota_abstract(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise shape_error("iota", [], f"a dimension within {shape}")
    return ShapedArray(shape, dtype)


def _iota_np(*, dtype, shape, dimension):
    r = np.arange(shape[dimension], dtype=np.int64).astype(dtype)
    return np.broadcast_to(r.reshape([-1 if i == dimension else 1 for i in range(len(shape))]), shape)


P.abstract_eval_rules[iota_p] = _iota_abstract
P.impl_rules["numpy"][iota_p] = _iota_np
P.batch_rules[iota_p] = lambda vals, dims, **params: ([iota_p.bind(**params)], [None])
defnondiff(iota_p)


def iota(dtype, size: int):
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=(int(size),), dimension=0)


def broadcasted_iota(dtype, shape, dimension: int):
    return iota_p.bind(dtype=dtypes.canonicalize(dtype), shape=tuple(int(s) for s in shape), dimension=int(dimension))
