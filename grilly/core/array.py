"""The concrete, immutable Array: a buffer on one backend plus its shape and dtype."""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core.array_methods import ArrayMethods
from grilly.core.aval import ShapedArray
from grilly.core.errors import ConcretizationError


class Array(ArrayMethods):
    """An immutable n-dimensional array living on a backend (Vulkan GPU memory or NumPy).

    >>> import grilly.numpy as gnp
    >>> x = gnp.arange(3.0)
    >>> (x * 2).tolist()
    [0.0, 2.0, 4.0]
    """

    __slots__ = ("_buf", "aval", "_backend", "_committed", "__weakref__")

    def __init__(self, buf, aval: ShapedArray, backend, committed: bool = False):
        self._buf = buf
        self.aval = aval
        self._backend = backend
        self._committed = committed  # placed by device_put: ops follow it, and other arrays move to it

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    itemsize = property(lambda self: self.aval.dtype.itemsize)
    nbytes = property(lambda self: self.aval.size * self.aval.dtype.itemsize)

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def device(self):
        return self._backend.device_of(self._buf)

    def __array__(self, dtype=None, copy=None):
        out = self._backend.to_numpy(self._buf, self.aval)
        return out if dtype is None else out.astype(dtype)

    def numpy(self) -> np.ndarray:
        return np.asarray(self)

    def tolist(self):
        return np.asarray(self).tolist()

    def item(self):
        return np.asarray(self).item()

    def block_until_ready(self) -> Array:
        self._backend.block_until_ready(self._buf)
        return self

    def _scalar(self, kind):
        if self.size != 1:
            raise ConcretizationError(f"only size-1 arrays convert to Python {kind.__name__}, got {self.aval}")
        return kind(np.asarray(self).reshape(()))

    def __bool__(self):
        return self._scalar(bool)

    def __int__(self):
        return self._scalar(int)

    def __float__(self):
        return self._scalar(float)

    def __index__(self):
        if not dtypes.is_int(self.dtype):
            raise TypeError(f"only integer arrays can be used as an index, got {self.aval}")
        return self._scalar(int)

    def __complex__(self):
        return self._scalar(complex)

    def __format__(self, spec):
        return format(np.asarray(self).reshape(()).item(), spec) if self.ndim == 0 else format(str(self), spec)

    def __repr__(self):
        body = np.array2string(np.asarray(self), separator=", ", prefix="Array(")
        return f"Array({body}, dtype={self.dtype})"

    def __str__(self):
        return str(np.asarray(self))

    def __reduce__(self):
        return (_rebuild, (np.asarray(self),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _rebuild(value):
    return asarray_concrete(value)


def asarray_concrete(val, dtype=None, backend=None) -> Array:
    """Make a concrete Array from a Python scalar, nested list, NumPy array or Array."""
    from grilly.core.backend import get_backend

    if isinstance(val, Array) and (dtype is None or np.dtype(dtype) == val.dtype):
        if backend is None or get_backend(backend) is val._backend:
            return val
        val = np.asarray(val)
    if dtype is None:
        if isinstance(val, bool | np.bool_):
            dtype = dtypes.bool_
        elif isinstance(val, int) and not isinstance(val, np.integer):
            dtype = dtypes.default_int()
        elif isinstance(val, float) and not isinstance(val, np.floating):
            dtype = dtypes.default_float()
        else:
            val = np.asarray(val)
            dtype = val.dtype
            if dtypes.kind(dtype) in "OUSV" or dtypes.kind(dtype) == "c":
                raise TypeError(f"cannot make a grilly array from {type(val).__name__} of dtype {dtype}")
    dtype = dtypes.canonicalize(dtype)
    arr = np.asarray(val, dtype=dtype, order="C")
    b = get_backend(backend)
    return Array(b.from_numpy(arr), ShapedArray(arr.shape, dtype), b)
