"""Reductions with NumPy's axis/keepdims/dtype arguments, and cumulative ops."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.lax import elementwise as E
from grilly.lax import reductions as R
from grilly.lax._helpers import aval_of, full
from grilly.lax.structural import expand_dims, reshape
from grilly.numpy._base import asarray, canon_axes


def _keep(out, axes, keepdims):
    return expand_dims(out, axes) if keepdims and axes else out


def sum(a, axis=None, dtype=None, keepdims=False, where=None):  # noqa: A001
    a = asarray(a)
    if where is not None:
        from grilly.numpy._math import where as where_

        a = where_(where, a, 0)
    if dtype is not None:
        a = E.convert_element_type(a, dtype)
    elif dtypes.kind(a.dtype) in "bu" or (dtypes.kind(a.dtype) == "i" and a.dtype.itemsize < 4):
        a = E.convert_element_type(a, dtypes.default_int() if dtypes.kind(a.dtype) != "u" else dtypes.uint32)
    axes = canon_axes(axis, a.ndim, "sum")
    return _keep(R.reduce_sum(a, axes) if axes else a, axes, keepdims)


def prod(a, axis=None, dtype=None, keepdims=False):
    a = asarray(a)
    if dtype is not None:
        a = E.convert_element_type(a, dtype)
    elif dtypes.kind(a.dtype) == "b":
        a = E.convert_element_type(a, dtypes.default_int())
    axes = canon_axes(axis, a.ndim, "prod")
    return _keep(R.reduce_prod(a, axes) if axes else a, axes, keepdims)


def max(a, axis=None, keepdims=False, initial=None):  # noqa: A001
    a = asarray(a)
    axes = canon_axes(axis, a.ndim, "max")
    out = _keep(R.reduce_max(a, axes) if axes else a, axes, keepdims)
    return out if initial is None else E.max_(out, full(out.shape, initial, out.dtype))


def min(a, axis=None, keepdims=False, initial=None):  # noqa: A001
    a = asarray(a)
    axes = canon_axes(axis, a.ndim, "min")
    out = _keep(R.reduce_min(a, axes) if axes else a, axes, keepdims)
    return out if initial is None else E.min_(out, full(out.shape, initial, out.dtype))


amax, amin = max, min


def any(a, axis=None, keepdims=False):  # noqa: A001
    a = asarray(a, bool)
    axes = canon_axes(axis, a.ndim, "any")
    return _keep(R.reduce_or(a, axes) if axes else a, axes, keepdims)


def all(a, axis=None, keepdims=False):  # noqa: A001
    a = asarray(a, bool)
    axes = canon_axes(axis, a.ndim, "all")
    return _keep(R.reduce_and(a, axes) if axes else a, axes, keepdims)


def mean(a, axis=None, dtype=None, keepdims=False):
    a = asarray(a)
    if dtypes.kind(a.dtype) != "f":
        a = E.convert_element_type(a, dtype or dtypes.default_float())
    axes = canon_axes(axis, a.ndim, "mean")
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    s = sum(a, axis=axes, keepdims=keepdims)
    return E.div(s, full(s.shape, n if n else np.nan, s.dtype))


def var(a, axis=None, ddof=0, keepdims=False):
    a = asarray(a)
    if dtypes.kind(a.dtype) != "f":
        a = E.convert_element_type(a, dtypes.default_float())
    axes = canon_axes(axis, a.ndim, "var")
    m = mean(a, axis=axes, keepdims=True)
    d = E.sub(a, _bcast(m, a.shape))
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64)) - ddof
    s = sum(E.mul(d, d), axis=axes, keepdims=keepdims)
    return E.div(s, full(s.shape, n if n > 0 else np.nan, s.dtype))


def std(a, axis=None, ddof=0, keepdims=False):
    return E.sqrt(var(a, axis=axis, ddof=ddof, keepdims=keepdims))


def _bcast(x, shape):
    from grilly.lax.structural import broadcast_to

    return broadcast_to(x, shape)


def argmax(a, axis=None, keepdims=False):
    a = asarray(a)
    if axis is None:
        return R.argmax(reshape(a, (-1,)), 0)
    ax = canon_axes(axis, a.ndim, "argmax")[0]
    out = R.argmax(a, ax)
    return expand_dims(out, (ax,)) if keepdims else out


def argmin(a, axis=None, keepdims=False):
    a = asarray(a)
    if axis is None:
        return R.argmin(reshape(a, (-1,)), 0)
    ax = canon_axes(axis, a.ndim, "argmin")[0]
    out = R.argmin(a, ax)
    return expand_dims(out, (ax,)) if keepdims else out


def _cum(lax_fn, name):
    def fn(a, axis=None, dtype=None):
        a = asarray(a)
        if dtype is not None:
            a = E.convert_element_type(a, dtype)
        elif dtypes.kind(a.dtype) == "b" or (dtypes.kind(a.dtype) in "iu" and a.dtype.itemsize < 4):
            a = E.convert_element_type(a, dtypes.uint32 if dtypes.kind(a.dtype) == "u" else dtypes.default_int())
        if axis is None:
            a, axis = reshape(a, (-1,)), 0
        if aval_of(a).size == 0:
            return a
        return lax_fn(a, canon_axes(axis, a.ndim, name)[0])

    fn.__name__ = name
    return fn


cumsum = _cum(R.cumsum, "cumsum")
cumprod = _cum(R.cumprod, "cumprod")


def logsumexp(a, axis=None, keepdims=False):
    a = asarray(a)
    axes = canon_axes(axis, a.ndim, "logsumexp")
    from grilly.transforms.misc import stop_gradient

    m = stop_gradient(max(a, axis=axes, keepdims=True))
    m = E.select(E.is_finite(m), m, full(m.shape, 0, m.dtype))
    s = sum(E.exp(E.sub(a, _bcast(m, a.shape))), axis=axes, keepdims=True)
    out = E.add(E.log(s), m)
    from grilly.lax.structural import squeeze

    return out if keepdims else squeeze(out, axes)
