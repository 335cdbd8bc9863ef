"""grilly.numpy: a jnp-compatible API over grilly.lax (``import grilly.numpy as gnp``).

>>> import grilly.numpy as gnp
>>> x = gnp.arange(6.0).reshape(2, 3)
>>> gnp.sum(x, axis=1).tolist()
[3.0, 12.0]
"""

from grilly.core.dtypes import (  # noqa: F401
    bfloat16, bool_, float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
)
from grilly.numpy import linalg  # noqa: F401
from grilly.numpy._base import array, asarray  # noqa: F401
from grilly.numpy._indexing import *  # noqa: F401,F403
from grilly.numpy._linalg import dot, einsum, inner, matmul, outer, tensordot, vdot  # noqa: F401
from grilly.numpy._math import *  # noqa: F401,F403
from grilly.numpy._math import abs, round  # noqa: F401
from grilly.numpy._reductions import *  # noqa: F401,F403
from grilly.numpy._reductions import all, any, max, min, sum  # noqa: F401
from grilly.numpy._shape import *  # noqa: F401,F403

import numpy as _np

pi, e, inf, nan, newaxis = _np.pi, _np.e, _np.inf, _np.nan, None
dtype = _np.dtype
ndarray = None  # set below to the Array class, for isinstance checks


def shape(a):
    return asarray(a).shape


def ndim(a):
    return asarray(a).ndim


def size(a):
    return asarray(a).size


def result_type(*args):
    from grilly.core import dtypes as _d
    from grilly.numpy._base import dtype_of

    return _d.result_type(*[dtype_of(a) for a in args])


def allclose(a, b, rtol=1e-5, atol=1e-8):
    return bool(_np.allclose(_np.asarray(a), _np.asarray(b), rtol=rtol, atol=atol))


def isclose(a, b, rtol=1e-5, atol=1e-8):
    from grilly.numpy._math import abs as _abs, less_equal, subtract, multiply, add as _add

    return less_equal(_abs(subtract(a, b)), _add(atol, multiply(rtol, _abs(b))))


def array_equal(a, b):
    return bool(_np.array_equal(_np.asarray(a), _np.asarray(b)))


def iscomplexobj(x):
    return False


def finfo(dt):
    from grilly.core import dtypes as _d

    return _d.finfo(dt)


def iinfo(dt):
    return _np.iinfo(dt)


def _set_ndarray():
    global ndarray
    from grilly.core.array import Array

    ndarray = Array


_set_ndarray()
