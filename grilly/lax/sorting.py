"""sort, argsort and top_k. NaNs sort last; ties keep their original order (stable)."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.primitive import Primitive
from grilly.lax._helpers import aval_of, defnondiff, full, moveaxis, shape_error
from grilly.lax.gather_scatter import put_along_axis, take_along_axis


def _axis_rule(name):
    def rule(x, *, dimension, **_):
        if not 0 <= dimension < x.ndim:
            raise shape_error(name, [x], f"a dimension within rank {x.ndim}, got {dimension}")
        return x if name == "sort" else ShapedArray(x.shape, dtypes.int32)

    return rule


def _stable_argsort(x, axis, descending):
    w = x.astype(np.float32) if x.dtype in (dtypes.float16, dtypes.bfloat16) else x
    if descending:
        if dtypes.kind(w.dtype) == "f":
            key = -w  # NaNs stay NaN, which NumPy sorts last (after -(-inf))
        elif w.dtype == np.bool_:
            key = ~w
        elif dtypes.kind(w.dtype) == "u":
            key = np.iinfo(w.dtype).max - w
        else:
            key = -(w.astype(np.int64))
        return np.argsort(key, axis=axis, kind="stable")
    return np.argsort(w, axis=axis, kind="stable")


sort_p = Primitive("sort")
argsort_p = Primitive("argsort")

P.abstract_eval_rules[sort_p] = _axis_rule("sort")
P.impl_rules["numpy"][sort_p] = lambda x, *, dimension, descending: np.take_along_axis(
    x, _stable_argsort(x, dimension, descending), dimension)
P.abstract_eval_rules[argsort_p] = _axis_rule("argsort")
P.impl_rules["numpy"][argsort_p] = lambda x, *, dimension, descending: _stable_argsort(x, dimension, descending)
defnondiff(argsort_p)


def _sort_jvp(primals, tangents, *, dimension, descending):
    x, t = primals[0], tangents[0]
    perm = argsort_p.bind(x, dimension=dimension, descending=descending)
    out = take_along_axis(x, perm, dimension)
    return [out], [None if t is None else take_along_axis(t, perm, dimension)]


def _sort_vjp(cts, primals, outs, *, dimension, descending):
    x = primals[0]
    if cts[0] is None:
        return [None]
    perm = argsort_p.bind(x, dimension=dimension, descending=descending)
    return [put_along_axis(full(x.shape, 0, x.dtype), perm, cts[0], dimension, mode="add")]


def _axis_batch(prim):
    return lambda vals, dims, *, dimension, **kw: (
        [prim.bind(moveaxis(vals[0], dims[0], 0), dimension=dimension + 1, **kw)], [0])


P.jvp_rules[sort_p] = _sort_jvp
P.vjp_rules[sort_p] = _sort_vjp
P.batch_rules[sort_p] = _axis_batch(sort_p)
P.batch_rules[argsort_p] = _axis_batch(argsort_p)

top_k_p = Primitive("top_k", multiple_results=True)


def _top_k_abstract(x, *, k):
    if x.ndim == 0 or not 0 <= k <= x.shape[-1]:
        raise shape_error("top_k", [x], f"an operand of rank >= 1 with at least k={k} entries on the last axis")
    shape = (*x.shape[:-1], k)
    return [ShapedArray(shape, x.dtype), ShapedArray(shape, dtypes.int32)]


def _top_k_np(x, *, k):
    idx = _stable_argsort(x, x.ndim - 1, True)[..., :k]
    return np.take_along_axis(x, idx, -1), idx.astype(np.int32)


def _top_k_jvp(primals, tangents, *, k):
    vals, idx = top_k_p.bind(primals[0], k=k)
    t = tangents[0]
    return [vals, idx], [None if t is None else take_along_axis(t, idx, -1), None]


def _top_k_vjp(cts, primals, outs, *, k):
    x = primals[0]
    if cts[0] is None:
        return [None]
    return [put_along_axis(full(x.shape, 0, x.dtype), outs[1], cts[0], -1, mode="add")]


def _top_k_batch(vals, dims, *, k):
    x = moveaxis(vals[0], dims[0], 0)
    if aval_of(x).ndim == 1:
        raise shape_error("top_k", [aval_of(x)], "rank >= 1 per batch member")
    return top_k_p.bind(x, k=k), [0, 0]


P.abstract_eval_rules[top_k_p] = _top_k_abstract
P.impl_rules["numpy"][top_k_p] = _top_k_np
P.jvp_rules[top_k_p] = _top_k_jvp
P.vjp_rules[top_k_p] = _top_k_vjp
P.batch_rules[top_k_p] = _top_k_batch


def sort(x, dimension: int = -1, descending: bool = False):
    return sort_p.bind(x, dimension=int(dimension) % aval_of(x).ndim, descending=bool(descending))


def argsort(x, dimension: int = -1, descending: bool = False):
    return argsort_p.bind(x, dimension=int(dimension) % aval_of(x).ndim, descending=bool(descending))


def top_k(x, k: int):
    """The k largest entries along the last axis, descending, with their indices (ties: lower index first)."""
    return tuple(top_k_p.bind(x, k=int(k)))
