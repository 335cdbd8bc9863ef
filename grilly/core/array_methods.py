"""Python operators and methods shared by concrete Arrays and every kind of tracer."""

from __future__ import annotations

import importlib

_numpy: list = []  # grilly.numpy, imported on first use (it imports this module)


def _gnp():
    if not _numpy:
        _numpy.append(importlib.import_module("grilly.numpy"))
    return _numpy[0]


def _binary(name, reflected=False):
    def method(self, other):
        fn = getattr(_numpy[0] if _numpy else _gnp(), name)
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = name
    return method


class ArrayMethods:
    __slots__ = ()
    __array_priority__ = 100

    __add__, __radd__ = _binary("add"), _binary("add", True)
    __sub__, __rsub__ = _binary("subtract"), _binary("subtract", True)
    __mul__, __rmul__ = _binary("multiply"), _binary("multiply", True)
    __truediv__, __rtruediv__ = _binary("true_divide"), _binary("true_divide", True)
    __floordiv__, __rfloordiv__ = _binary("floor_divide"), _binary("floor_divide", True)
    __mod__, __rmod__ = _binary("mod"), _binary("mod", True)
    __pow__, __rpow__ = _binary("power"), _binary("power", True)
    __matmul__, __rmatmul__ = _binary("matmul"), _binary("matmul", True)
    __and__, __rand__ = _binary("bitwise_and"), _binary("bitwise_and", True)
    __or__, __ror__ = _binary("bitwise_or"), _binary("bitwise_or", True)
    __xor__, __rxor__ = _binary("bitwise_xor"), _binary("bitwise_xor", True)
    __lshift__, __rlshift__ = _binary("left_shift"), _binary("left_shift", True)
    __rshift__, __rrshift__ = _binary("right_shift"), _binary("right_shift", True)
    __lt__, __le__ = _binary("less"), _binary("less_equal")
    __gt__, __ge__ = _binary("greater"), _binary("greater_equal")
    __eq__, __ne__ = _binary("equal"), _binary("not_equal")
    __hash__ = None

    def __neg__(self):
        return _gnp().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _gnp().abs(self)

    def __invert__(self):
        return _gnp().invert(self)

    def __getitem__(self, idx):
        from grilly.core import indexing

        return indexing.getitem(self, idx)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    @property
    def at(self):
        from grilly.core.indexing import AtIndexer

        return AtIndexer(self)

    @property
    def T(self):
        return _gnp().transpose(self)

    @property
    def mT(self):
        return _gnp().swapaxes(self, -1, -2)

    def astype(self, dtype):
        return _gnp().astype(self, dtype)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        return _gnp().reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = tuple(axes[0])
        return _gnp().transpose(self, axes or None)

    def ravel(self):
        return _gnp().ravel(self)

    flatten = ravel

    def squeeze(self, axis=None):
        return _gnp().squeeze(self, axis)

    def swapaxes(self, a, b):
        return _gnp().swapaxes(self, a, b)

    def sum(self, axis=None, dtype=None, keepdims=False):
        return _gnp().sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        return _gnp().prod(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _gnp().mean(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _gnp().var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _gnp().std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _gnp().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _gnp().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None):
        return _gnp().argmax(self, axis=axis)

    def argmin(self, axis=None):
        return _gnp().argmin(self, axis=axis)

    def any(self, axis=None, keepdims=False):
        return _gnp().any(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _gnp().all(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        return _gnp().cumsum(self, axis=axis)

    def clip(self, min=None, max=None):
        return _gnp().clip(self, min, max)

    def dot(self, other):
        return _gnp().dot(self, other)

    def round(self, decimals=0):
        return _gnp().round(self, decimals)

    def conj(self):
        return self

    @property
    def real(self):
        return self
