"""Shared helpers for defining primitives: scalar constants, error text, batching utilities."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.array import asarray_concrete
from grilly.core.aval import ShapedArray
from grilly.core.errors import DTypeError, ShapeError


def describe(*avals) -> str:
    return ", ".join(a.str_short() if isinstance(a, ShapedArray) else repr(a) for a in avals)


def shape_error(op: str, avals, expected: str) -> ShapeError:
    return ShapeError(f"{op}: got operands {describe(*avals)}; expected {expected}")


def dtype_error(op: str, avals, expected: str) -> DTypeError:
    return DTypeError(f"{op}: got operands {describe(*avals)}; expected {expected}")


def aval_of(x) -> ShapedArray:
    if isinstance(x, ShapedArray):
        return x
    return x.aval if hasattr(x, "aval") else asarray_concrete(x).aval


def scalar(value, dtype) -> object:
    """A concrete 0-d array; inside a trace it becomes a constant of the program."""
    return asarray_concrete(np.asarray(value, dtype=dtypes.canonicalize(dtype)))


def full(shape, value, dtype):
    from grilly.lax.structural import broadcast_in_dim

    s = scalar(value, dtype)
    return broadcast_in_dim(s, tuple(shape), ()) if tuple(shape) else s


def zeros_like(x):
    av = aval_of(x)
    return full(av.shape, 0, av.dtype)


def ones_like(x):
    av = aval_of(x)
    return full(av.shape, 1, av.dtype)


def instantiate(ct, like):
    """Turn a symbolic zero (None) into an array of zeros shaped like ``like``."""
    return zeros_like(like) if ct is None else ct


def add_any(a, b):
    from grilly.lax.elementwise import add

    if a is None:
        return b
    if b is None:
        return a
    return add(a, b)


def normalize_axis(axis: int, ndim: int, op: str) -> int:
    if not -ndim <= axis < max(ndim, 1):
        raise ShapeError(f"{op}: axis {axis} is out of range for an array of rank {ndim}")
    return axis % max(ndim, 1)


# ---- batching helpers -------------------------------------------------------------------------------------

def moveaxis(x, src: int, dst: int):
    from grilly.lax.structural import transpose

    nd = aval_of(x).ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose(x, tuple(perm))


def bdim_to_front(x, bdim, size):
    """Put the batch dimension first, broadcasting an unbatched value to ``size``."""
    from grilly.lax.structural import broadcast_in_dim

    if bdim is None:
        av = aval_of(x)
        return broadcast_in_dim(x, (size, *av.shape), tuple(range(1, av.ndim + 1)))
    return moveaxis(x, bdim, 0)


def batch_size(vals, dims) -> int:
    for v, d in zip(vals, dims):
        if d is not None:
            return aval_of(v).shape[d]
    raise ValueError("no batched operand")


def defvectorized(prim):
    """Batching for primitives that act elementwise on one operand and keep its shape."""
    P.batch_rules[prim] = lambda vals, dims, **params: ([prim.bind(*vals, **params)], [dims[0]])


def defnondiff(prim):
    P.nondiff.add(prim)
