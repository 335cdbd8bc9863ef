"""Reductions over axes, argmax/argmin, and cumulative (prefix) ops."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.primitive import Primitive
from grilly.lax import elementwise as E
from grilly.lax._helpers import aval_of, defnondiff, dtype_error, full, moveaxis, shape_error
from grilly.lax.structural import broadcast_in_dim, concatenate, reshape, rev, slice_in_dim, transpose


def _check_axes(name, x, axes):
    if len(set(axes)) != len(axes) or any(not 0 <= a < x.ndim for a in axes):
        raise shape_error(name, [x], f"distinct axes within rank {x.ndim}, got {axes}")


def _reduce_abstract(name, kinds="fiub", out_dtype=None):
    def rule(x, *, axes):
        _check_axes(name, x, axes)
        if dtypes.kind(x.dtype) not in kinds:
            raise dtype_error(name, [x], "a dtype of kind " + kinds)
        return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in axes), out_dtype or x.dtype)

    return rule


def _reduce_batch(prim):
    def rule(vals, dims, *, axes):
        x = moveaxis(vals[0], dims[0], 0)
        return [prim.bind(x, axes=tuple(a + 1 for a in axes))], [0]

    return rule


def _keep(ct, x, axes):
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    return broadcast_in_dim(ct, x.shape, kept)


def _np_reduce(fn):
    def impl(x, *, axes):
        wide = x.astype(np.float32) if x.dtype in (dtypes.float16, dtypes.bfloat16) else x
        return fn(wide, axis=axes) if x.size or fn in (np.sum, np.prod, np.any, np.all) else _empty_reduce(fn, x, axes)

    return impl


def _empty_reduce(fn, x, axes):
    shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    if dtypes.kind(x.dtype) == "f":
        return np.full(shape, -np.inf if fn is np.max else np.inf, x.dtype)
    info = np.iinfo(x.dtype) if dtypes.kind(x.dtype) in "iu" else None
    if info is None:
        return np.full(shape, fn is np.min, x.dtype)
    return np.full(shape, info.min if fn is np.max else info.max, x.dtype)


def _define(name, np_fn, kinds="fiub"):
    prim = Primitive(name)
    P.abstract_eval_rules[prim] = _reduce_abstract(name, kinds)
    P.impl_rules["numpy"][prim] = _np_reduce(np_fn)
    P.batch_rules[prim] = _reduce_batch(prim)
    return prim


reduce_sum_p = _define("reduce_sum", np.sum, "fiu")
reduce_prod_p = _define("reduce_prod", np.prod, "fiu")
reduce_max_p = _define("reduce_max", np.max)
reduce_min_p = _define("reduce_min", np.min)
reduce_and_p = _define("reduce_and", np.all, "b")
reduce_or_p = _define("reduce_or", np.any, "b")
defnondiff(reduce_and_p)
defnondiff(reduce_or_p)


def _reduce_sum_jvp(primals, tangents, *, axes):
    out = reduce_sum_p.bind(primals[0], axes=axes)
    return [out], [None if tangents[0] is None else reduce_sum_p.bind(tangents[0], axes=axes)]


P.jvp_rules[reduce_sum_p] = _reduce_sum_jvp
P.vjp_rules[reduce_sum_p] = lambda cts, primals, outs, *, axes: [
    None if cts[0] is None else _keep(cts[0], primals[0], axes)
]


def _chooser_weights(x, ans, axes):
    """Where x attains the max/min, split the derivative equally between ties (as JAX does)."""
    hits = E.convert(E.eq_(x, _keep(ans, x, axes)), x.dtype)
    counts = reduce_sum_p.bind(hits, axes=axes)
    return E.div(hits, _keep(counts, x, axes))


def _chooser_rules(prim):
    def jvp(primals, tangents, *, axes):
        x, t = primals[0], tangents[0]
        ans = prim.bind(x, axes=axes)
        if t is None:
            return [ans], [None]
        return [ans], [reduce_sum_p.bind(E.mul(t, _chooser_weights(x, ans, axes)), axes=axes)]

    def vjp(cts, primals, outs, *, axes):
        if cts[0] is None:
            return [None]
        return [E.mul(_keep(cts[0], primals[0], axes), _chooser_weights(primals[0], outs[0], axes))]

    P.jvp_rules[prim], P.vjp_rules[prim] = jvp, vjp


_chooser_rules(reduce_max_p)
_chooser_rules(reduce_min_p)


def _prod_others(x, axes):
    """d prod / d x_i = product of all other elements, computed without division (zeros are fine)."""
    nd = aval_of(x).ndim
    rest = [i for i in range(nd) if i not in axes]
    xt = transpose(x, (*rest, *axes))
    shp = aval_of(xt).shape
    k = int(np.prod(shp[len(rest):], dtype=np.int64))
    flat = reshape(xt, (*shp[:len(rest)], k))
    last = len(rest)
    one = full((*shp[:len(rest)], 1), 1, aval_of(x).dtype)
    left = concatenate([one, slice_in_dim(cumprod(flat, last), 0, k - 1, axis=last)], last)
    right = concatenate([slice_in_dim(cumprod(flat, last, reverse=True), 1, k, axis=last), one], last)
    others = reshape(E.mul(left, right), shp)
    return transpose(others, tuple(np.argsort((*rest, *axes))))


def _reduce_prod_jvp(primals, tangents, *, axes):
    x, t = primals[0], tangents[0]
    ans = reduce_prod_p.bind(x, axes=axes)
    if t is None:
        return [ans], [None]
    return [ans], [reduce_sum_p.bind(E.mul(t, _prod_others(x, axes)), axes=axes)]


def _reduce_prod_vjp(cts, primals, outs, *, axes):
    if cts[0] is None:
        return [None]
    return [E.mul(_keep(cts[0], primals[0], axes), _prod_others(primals[0], axes))]


P.jvp_rules[reduce_prod_p] = _reduce_prod_jvp
P.vjp_rules[reduce_prod_p] = _reduce_prod_vjp


def reduce_sum(x, axes): return reduce_sum_p.bind(x, axes=tuple(sorted(axes)))
def reduce_prod(x, axes): return reduce_prod_p.bind(x, axes=tuple(sorted(axes)))
def reduce_max(x, axes): return reduce_max_p.bind(x, axes=tuple(sorted(axes)))
def reduce_min(x, axes): return reduce_min_p.bind(x, axes=tuple(sorted(axes)))
def reduce_and(x, axes): return reduce_and_p.bind(x, axes=tuple(sorted(axes)))
def reduce_or(x, axes): return reduce_or_p.bind(x, axes=tuple(sorted(axes)))


# ---- argmax / argmin ------------------------------------------------------------------------------------------


def _arg_abstract(name):
    def rule(x, *, axis, index_dtype):
        if not 0 <= axis < x.ndim or x.shape[axis] == 0:
            raise shape_error(name, [x], f"a non-empty axis within rank {x.ndim}, got axis {axis}")
        return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i != axis), index_dtype)

    return rule


def _arg_np(fn):
    def impl(x, *, axis, index_dtype):
        wide = x.astype(np.float32) if x.dtype in (dtypes.float16, dtypes.bfloat16) else x
        return fn(wide, axis=axis).astype(index_dtype)

    return impl


argmax_p, argmin_p = Primitive("argmax"), Primitive("argmin")
for _p, _fn in ((argmax_p, np.argmax), (argmin_p, np.argmin)):
    P.abstract_eval_rules[_p] = _arg_abstract(_p.name)
    P.impl_rules["numpy"][_p] = _arg_np(_fn)
    P.batch_rules[_p] = (lambda prim: lambda vals, dims, *, axis, index_dtype: (
        [prim.bind(moveaxis(vals[0], dims[0], 0), axis=axis + 1, index_dtype=index_dtype)], [0]))(_p)
    defnondiff(_p)


def argmax(x, axis, index_dtype=dtypes.int32):
    return argmax_p.bind(x, axis=int(axis), index_dtype=dtypes.canonicalize(index_dtype))


def argmin(x, axis, index_dtype=dtypes.int32):
    return argmin_p.bind(x, axis=int(axis), index_dtype=dtypes.canonicalize(index_dtype))


# ---- cumulative ops -------------------------------------------------------------------------------------------


def _cum_abstract(name):
    def rule(x, *, axis, reverse):
        if not 0 <= axis < x.ndim:
            raise shape_error(name, [x], f"an axis within rank {x.ndim}, got {axis}")
        if x.dtype == dtypes.bool_:
            raise dtype_error(name, [x], "a numeric dtype")
        return x

    return rule


def _cum_np(fn):
    def impl(x, *, axis, reverse):
        wide = x.astype(np.float32) if x.dtype in (dtypes.float16, dtypes.bfloat16) else x
        if reverse:
            wide = np.flip(wide, axis)
        out = fn(wide, axis=axis)
        return np.flip(out, axis) if reverse else out

    return impl


def _cum_batch(prim):
    return lambda vals, dims, *, axis, reverse: (
        [prim.bind(moveaxis(vals[0], dims[0], 0), axis=axis + 1, reverse=reverse)], [0])


cumsum_p, cumprod_p = Primitive("cumsum"), Primitive("cumprod")
cummax_p, cummin_p = Primitive("cummax"), Primitive("cummin")
for _p, _fn in ((cumsum_p, np.cumsum), (cumprod_p, np.cumprod), (cummax_p, np.maximum.accumulate),
                (cummin_p, np.minimum.accumulate)):
    P.abstract_eval_rules[_p] = _cum_abstract(_p.name)
    P.impl_rules["numpy"][_p] = _cum_np(_fn)
    P.batch_rules[_p] = _cum_batch(_p)


def _cumsum_jvp(primals, tangents, *, axis, reverse):
    out = cumsum_p.bind(primals[0], axis=axis, reverse=reverse)
    return [out], [None if tangents[0] is None else cumsum_p.bind(tangents[0], axis=axis, reverse=reverse)]


P.jvp_rules[cumsum_p] = _cumsum_jvp
P.vjp_rules[cumsum_p] = lambda cts, primals, outs, *, axis, reverse: [
    None if cts[0] is None else cumsum_p.bind(cts[0], axis=axis, reverse=not reverse)
]


def _cum_matrix(x, ans, axis, reverse, kind):
    """M[..., i, j]: how much out[j] moves per unit of x[i] (a triangular matrix), built from grilly ops."""
    xl, al = moveaxis(x, axis, -1), moveaxis(ans, axis, -1)
    av = aval_of(xl)
    n, nd = av.shape[-1], av.ndim
    shape2 = (*av.shape, n)
    xi = broadcast_in_dim(xl, shape2, tuple(range(nd)))  # x_i along axis -2
    aj = broadcast_in_dim(al, shape2, (*range(nd - 1), nd))  # out_j along axis -1
    from grilly.lax.structural import broadcasted_iota

    i_idx, j_idx = broadcasted_iota(dtypes.int32, shape2, nd - 1), broadcasted_iota(dtypes.int32, shape2, nd)
    tri = E.ge_(i_idx, j_idx) if reverse else E.le_(i_idx, j_idx)
    if kind == "prod":
        # d out_j / d x_i = prod_{k in window(j), k != i} x_k: the product with x_i replaced by 1.
        one = full(shape2, 1, av.dtype)
        diag = E.eq_(i_idx, j_idx)
        xk = broadcast_in_dim(xl, (*av.shape[:-1], n, n, n), (*range(nd - 1), nd + 1))
        kk = broadcasted_iota(dtypes.int32, (*av.shape[:-1], n, n, n), nd + 1)
        ii = broadcasted_iota(dtypes.int32, (*av.shape[:-1], n, n, n), nd - 1)
        jj = broadcasted_iota(dtypes.int32, (*av.shape[:-1], n, n, n), nd)
        inwin = E.ge_(kk, jj) if reverse else E.le_(kk, jj)
        factors = E.select(E.and_(inwin, E.ne_(kk, ii)), xk, full(aval_of(xk).shape, 1, av.dtype))
        w = reduce_prod(factors, (nd + 1,))
        del one, diag
        return E.select(tri, w, full(shape2, 0, av.dtype))
    # cummax / cummin: out_j comes from the first i in its window where x_i equals out_j.
    hit = E.and_(tri, E.eq_(xi, aj))
    first = E.and_(hit, E.eq_(cumsum_p.bind(E.convert(hit, dtypes.int32), axis=nd - 1, reverse=reverse),
                              full(shape2, 1, dtypes.int32)))
    return E.convert(first, av.dtype)


def _cum_general_rules(prim, kind):
    def apply(m, t, axis):  # out_j = sum_i M_ij t_i
        tl = moveaxis(t, axis, -1)
        nd = aval_of(tl).ndim
        tb = broadcast_in_dim(tl, aval_of(m).shape, tuple(range(nd)))
        return moveaxis(reduce_sum(E.mul(m, tb), (nd - 1,)), -1, axis)

    def jvp(primals, tangents, *, axis, reverse):
        x, t = primals[0], tangents[0]
        ans = prim.bind(x, axis=axis, reverse=reverse)
        if t is None:
            return [ans], [None]
        return [ans], [apply(_cum_matrix(x, ans, axis, reverse, kind), t, axis)]

    def vjp(cts, primals, outs, *, axis, reverse):
        if cts[0] is None:
            return [None]
        m = _cum_matrix(primals[0], outs[0], axis, reverse, kind)
        cl = moveaxis(cts[0], axis, -1)
        nd = aval_of(cl).ndim
        cb = broadcast_in_dim(cl, aval_of(m).shape, (*range(nd - 1), nd))
        return [moveaxis(reduce_sum(E.mul(m, cb), (nd,)), -1, axis)]

    P.jvp_rules[prim], P.vjp_rules[prim] = jvp, vjp


_cum_general_rules(cumprod_p, "prod")
_cum_general_rules(cummax_p, "max")
_cum_general_rules(cummin_p, "min")


def cumsum(x, axis=0, reverse=False): return cumsum_p.bind(x, axis=int(axis) % aval_of(x).ndim, reverse=bool(reverse))
def cumprod(x, axis=0, reverse=False): return cumprod_p.bind(x, axis=int(axis) % aval_of(x).ndim, reverse=bool(reverse))
def cummax(x, axis=0, reverse=False): return cummax_p.bind(x, axis=int(axis) % aval_of(x).ndim, reverse=bool(reverse))
def cummin(x, axis=0, reverse=False): return cummin_p.bind(x, axis=int(axis) % aval_of(x).ndim, reverse=bool(reverse))


__all__ = ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or", "argmax", "argmin",
           "cumsum", "cumprod", "cummax", "cummin", "rev"]
