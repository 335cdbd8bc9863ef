"""Conversion, promotion and broadcasting shared by the grilly.numpy functions."""

from __future__ import annotations

import numpy as np

from grilly.core import array_caches, dtypes
from grilly.core.array import Array, asarray_concrete
from grilly.core.errors import ShapeError
from grilly.core.trace import Tracer
from grilly.lax import elementwise as E
from grilly.lax._helpers import aval_of
from grilly.lax.structural import broadcast_to

ArrayLike = object


def is_array(x) -> bool:
    return isinstance(x, Array | Tracer)


def _is_weak(x) -> bool:
    return isinstance(x, int | float | bool) and not isinstance(x, np.generic)


def asarray(x, dtype=None):
    """Upload (or keep) ``x`` as a grilly array, converting to ``dtype`` if given.

    >>> import grilly.numpy as gnp
    >>> gnp.asarray([1, 2]).dtype
    dtype('int32')
    """
    if is_array(x):
        return x if dtype is None else E.convert_element_type(x, dtype)
    if isinstance(x, list | tuple) and any(is_array(v) for v in _flat_seq(x)):
        from grilly.numpy._shape import stack

        return stack([asarray(v, dtype) for v in x])
    return asarray_concrete(x, None if dtype is None else dtypes.canonicalize(dtype))


def _flat_seq(x):
    for v in x:
        if isinstance(v, list | tuple):
            yield from _flat_seq(v)
        else:
            yield v


array = asarray


def dtype_of(x):
    return aval_of(x).dtype if is_array(x) else asarray_concrete(x).dtype


def promote(*args, to_float: bool = False, op: str = "op"):
    """Promote to one dtype (Python scalars are weak, as in JAX) and broadcast to one shape."""
    first = getattr(args[0], "aval", None)
    if first is not None and (not to_float or dtypes.kind(first.dtype) == "f"):
        for a in args[1:]:
            av = getattr(a, "aval", None)
            if av is not first and av != first:
                break
        else:
            return list(args)  # the common case: operands that already agree
    if len(args) == 2:  # the next most common: an array and a Python scalar of a kind it already holds
        fast = _array_and_scalar(args[0], args[1], to_float) or _array_and_scalar(args[1], args[0], to_float)
        if fast is not None:
            return fast if fast[0] is args[0] else fast[::-1]
    weak = tuple(_is_weak(a) for a in args)
    dts = [np.asarray(a).dtype if w else dtype_of(a) for a, w in zip(args, weak)]
    dt = dtypes.result_type(*dts, weak=weak)
    if to_float and dtypes.kind(dt) != "f":
        dt = dtypes.default_float()
    arrs = [None if w else asarray(a, dt) if not is_array(a) else E.convert_element_type(a, dt)
            for a, w in zip(args, weak)]
    shapes = [aval_of(a).shape for a in arrs if a is not None]
    try:
        shape = shapes[0] if len(set(shapes)) == 1 else np.broadcast_shapes(*shapes)
    except ValueError:
        desc = ", ".join(aval_of(a).str_short() for a in arrs if a is not None)
        raise ShapeError(f"{op}: operands {desc} do not broadcast together") from None
    return [_scalar_constant(v, dt, shape) if a is None else broadcast_to(a, shape) for a, v in zip(arrs, args)]


def _array_and_scalar(arr, scalar, to_float: bool):
    """``[arr, scalar as a full array of arr's dtype and shape]`` when a weak Python float (or int) meets an
    array of a floating (or any numeric) dtype: the array's dtype wins, as the general rule would decide."""
    av = getattr(arr, "aval", None)
    t = type(scalar)
    if av is None or t not in (float, int):
        return None
    k = dtypes.kind(av.dtype)
    if not (k == "f" or (t is int and k in "iu" and not to_float)):
        return None
    return [arr, _scalar_constant(scalar, av.dtype, av.shape)]


_constants: dict = array_caches.register({})  # (a jit recording drops the placeholders it put here)


def _scalar_constant(value, dtype, shape):
    """A Python scalar as a full array of ``shape``, cached: arrays are immutable, and ``x + 1.0`` in a loop
    should cost one kernel, not an upload and a broadcast each time."""
    from grilly.core.backend import default_backend

    key = (type(value), value, dtype, shape, default_backend())
    hit = _constants.get(key)
    if hit is not None:
        return hit
    size = int(np.prod(shape, dtype=np.int64))
    out = broadcast_to(asarray_concrete(np.asarray(value, dtype)), shape)
    from grilly.core.array import Array

    if size <= 1 << 16 and type(out) is Array:  # concrete, small: worth keeping
        if len(_constants) > 512:
            _constants.clear()
        _constants[key] = out
    return out


def canon_axes(axis, ndim: int, op: str = "op"):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of bounds for an array of rank {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))
