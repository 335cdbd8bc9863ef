"""take, take_along_axis, nonzero, diagonal, sort/argsort and friends."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.lax import gather_scatter as G
from grilly.lax import sorting as SO
from grilly.lax._helpers import aval_of
from grilly.lax.structural import reshape
from grilly.numpy._base import asarray, canon_axes


def take(a, indices, axis=None, mode=None):
    a = asarray(a)
    idx = asarray(indices)
    if axis is None:
        a, axis = reshape(a, (aval_of(a).size,)), 0
    ax = canon_axes(axis, a.ndim, "take")[0]
    n = a.shape[ax]
    from grilly.numpy._math import where

    idx = where(idx < 0, idx + n, idx)
    return G.gather(a, idx, ax)


def take_along_axis(arr, indices, axis):
    arr, idx = asarray(arr), asarray(indices)
    ax = canon_axes(axis, arr.ndim, "take_along_axis")[0]
    from grilly.numpy._math import where

    idx = where(idx < 0, idx + arr.shape[ax], idx)
    return G.take_along_axis(arr, idx, ax)


def nonzero(a):
    """Indices of the nonzero entries (needs a concrete array: the result's size depends on the data)."""
    return tuple(asarray(i.astype(np.int32)) for i in np.nonzero(np.asarray(a)))


def argwhere(a):
    return asarray(np.argwhere(np.asarray(a)).astype(np.int32))


def diagonal(a, offset=0, axis1=0, axis2=1):
    a = asarray(a)
    n, m = a.shape[axis1], a.shape[axis2]
    rows = np.arange(max(0, -offset), min(n, m - offset)) if m - offset > 0 else np.arange(0)
    from grilly.numpy._shape import moveaxis

    b = moveaxis(a, (axis1, axis2), (-2, -1))
    flat = reshape(b, (*b.shape[:-2], n * m))
    return G.gather(flat, asarray((rows * m + rows + offset).astype(np.int32)), flat.ndim - 1)


def trace(a, offset=0, axis1=0, axis2=1):
    from grilly.numpy._reductions import sum as sum_

    return sum_(diagonal(a, offset, axis1, axis2), axis=-1)


def sort(a, axis=-1):
    a = asarray(a)
    if axis is None:
        a, axis = reshape(a, (aval_of(a).size,)), 0
    return SO.sort(a, axis)


def argsort(a, axis=-1, stable=True, descending=False):
    a = asarray(a)
    if axis is None:
        a, axis = reshape(a, (aval_of(a).size,)), 0
    return SO.argsort(a, axis, descending)


def searchsorted(a, v, side="left"):
    from grilly.lax.structural import broadcast_in_dim
    from grilly.numpy._reductions import sum as sum_

    a, v = asarray(a), asarray(v)
    av = broadcast_in_dim(v, (*v.shape, a.shape[0]), tuple(range(v.ndim)))
    aa = broadcast_in_dim(a, (*v.shape, a.shape[0]), (v.ndim,))
    cmp = (aa < av) if side == "left" else (aa <= av)
    return sum_(cmp.astype(dtypes.int32), axis=-1)


def unique(a):
    """Sorted unique values (needs a concrete array)."""
    return asarray(np.unique(np.asarray(a)))
