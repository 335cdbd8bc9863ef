"""Elementwise math with NumPy's names and broadcasting."""

from __future__ import annotations

import math

import numpy as np

from grilly.core import dtypes
from grilly.lax import elementwise as E
from grilly.lax._helpers import aval_of, full
from grilly.numpy._base import asarray, promote


def _unary(lax_fn, name, to_float=True):
    def fn(x):
        (x,) = promote(x, to_float=to_float, op=name)
        return lax_fn(x)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}, as ``numpy.{name}``."
    return fn


def _binary(lax_fn, name, to_float=False):
    def fn(x, y):
        av = getattr(x, "aval", None)
        if av is None or getattr(y, "aval", None) is not av or to_float and dtypes.kind(av.dtype) != "f":
            x, y = promote(x, y, to_float=to_float, op=name)  # (operands with one aval are already promoted)
        return lax_fn(x, y)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} with broadcasting, as ``numpy.{name}``."
    return fn


exp = _unary(E.exp, "exp")
exp2 = _unary(E.exp2, "exp2")
log = _unary(E.log, "log")
log1p = _unary(E.log1p, "log1p")
expm1 = _unary(E.expm1, "expm1")
sin = _unary(E.sin, "sin")
cos = _unary(E.cos, "cos")
tan = _unary(E.tan, "tan")
arcsin = _unary(E.asin, "arcsin")
arccos = _unary(E.acos, "arccos")
arctan = _unary(E.atan, "arctan")
sinh = _unary(E.sinh, "sinh")
cosh = _unary(E.cosh, "cosh")
tanh = _unary(E.tanh, "tanh")
arcsinh = _unary(E.asinh, "arcsinh")
arccosh = _unary(E.acosh, "arccosh")
arctanh = _unary(E.atanh, "arctanh")
sqrt = _unary(E.sqrt, "sqrt")
cbrt = _unary(E.cbrt, "cbrt")
floor = _unary(E.floor, "floor")
ceil = _unary(E.ceil, "ceil")
rint = _unary(E.round, "rint")
arctan2 = _binary(E.atan2, "arctan2", to_float=True)
add = _binary(lambda x, y: E.or_(x, y) if x.dtype == dtypes.bool_ else E.add(x, y), "add")  # bool: or
subtract = _binary(E.sub, "subtract")
multiply = _binary(lambda x, y: E.and_(x, y) if x.dtype == dtypes.bool_ else E.mul(x, y), "multiply")  # bool: and
maximum = _binary(E.max_, "maximum")
minimum = _binary(E.min_, "minimum")
nextafter = _binary(E.nextafter, "nextafter", to_float=True)
equal = _binary(E.eq_, "equal")
not_equal = _binary(E.ne_, "not_equal")
less = _binary(E.lt_, "less")
less_equal = _binary(E.le_, "less_equal")
greater = _binary(E.gt_, "greater")
greater_equal = _binary(E.ge_, "greater_equal")
bitwise_and = _binary(E.and_, "bitwise_and")
bitwise_or = _binary(E.or_, "bitwise_or")
bitwise_xor = _binary(E.xor_, "bitwise_xor")
left_shift = _binary(E.shift_left, "left_shift")


def right_shift(x, y):
    x, y = promote(x, y, op="right_shift")
    return E.shift_right_logical(x, y) if dtypes.kind(x.dtype) == "u" else E.shift_right_arithmetic(x, y)


def logical_and(x, y):
    return bitwise_and(asarray(x, bool), asarray(y, bool))


def logical_or(x, y):
    return bitwise_or(asarray(x, bool), asarray(y, bool))


def logical_xor(x, y):
    return bitwise_xor(asarray(x, bool), asarray(y, bool))


def logical_not(x):
    return E.bitwise_not(asarray(x, bool))


def invert(x):
    (x,) = promote(x, op="invert")
    return E.bitwise_not(x)


bitwise_not = invert


def negative(x):
    (x,) = promote(x, op="negative")
    return E.neg(x) if x.dtype != dtypes.bool_ else E.bitwise_not(x)


def positive(x):
    return asarray(x)


def abs(x):  # noqa: A001
    (x,) = promote(x, op="abs")
    return x if dtypes.kind(x.dtype) in "ub" else E.abs(x)


absolute = abs


def sign(x):
    (x,) = promote(x, op="sign")
    return E.sign(x) if dtypes.kind(x.dtype) in "fi" else E.convert(E.ne_(x, full(x.shape, 0, x.dtype)), x.dtype)


def true_divide(x, y):
    x, y = promote(x, y, to_float=True, op="true_divide")
    return E.div(x, y)


divide = true_divide


def floor_divide(x, y):
    x, y = promote(x, y, op="floor_divide")
    if dtypes.kind(x.dtype) == "f":
        return E.floor(E.div(x, y))
    q = E.div(x, y)  # truncates toward zero; step down where signs differ and it was inexact
    if dtypes.kind(x.dtype) == "u":
        return q
    zero = full(x.shape, 0, x.dtype)
    fix = E.and_(E.ne_(E.rem(x, y), zero), E.ne_(E.lt_(x, zero), E.lt_(y, zero)))
    return E.sub(q, E.convert(fix, x.dtype))


def remainder(x, y):
    x, y = promote(x, y, op="remainder")
    r = E.rem(x, y)
    if dtypes.kind(x.dtype) == "u":
        return r
    zero = full(x.shape, 0, x.dtype)
    fix = E.and_(E.ne_(r, zero), E.ne_(E.lt_(r, zero), E.lt_(y, zero)))
    return E.select(fix, E.add(r, y), r)


mod = remainder


def fmod(x, y):
    x, y = promote(x, y, op="fmod")
    return E.rem(x, y)


def power(x, y):
    if isinstance(y, int) and not isinstance(y, bool):
        (x,) = promote(x, op="power")
        if dtypes.kind(x.dtype) in "iu" and y < 0:
            raise ValueError("power: integers to negative integer powers are not allowed")
        return E.integer_pow(x, y)
    x, y = promote(x, y, op="power")
    if dtypes.kind(x.dtype) in "iu":
        return _int_power(x, y)
    return E.pow_(x, y)


def _int_power(x, y):
    out = asarray(np.ones((), x.dtype))
    from grilly.lax.structural import broadcast_to

    out = broadcast_to(out, x.shape)
    base, e = x, y
    for _ in range(8 * x.dtype.itemsize):
        bit = E.convert(E.and_(e, full(e.shape, 1, e.dtype)), dtypes.bool_)
        out = E.select(bit, E.mul(out, base), out)
        base, e = E.mul(base, base), E.shift_right_logical(e, full(e.shape, 1, e.dtype))
    return out


def square(x):
    (x,) = promote(x, op="square")
    return E.integer_pow(x, 2)


def reciprocal(x):
    (x,) = promote(x, to_float=True, op="reciprocal")
    return E.div(full(x.shape, 1, x.dtype), x)


def log2(x):
    (x,) = promote(x, to_float=True, op="log2")
    return E.div(E.log(x), full(x.shape, math.log(2), x.dtype))


def log10(x):
    (x,) = promote(x, to_float=True, op="log10")
    return E.div(E.log(x), full(x.shape, math.log(10), x.dtype))


def logaddexp(x, y):
    x, y = promote(x, y, to_float=True, op="logaddexp")
    m = E.max_(x, y)
    d = E.neg(E.abs(E.sub(x, y)))
    return E.add(m, E.log1p(E.exp(d)))


def round(x, decimals: int = 0):  # noqa: A001
    (x,) = promote(x, op="round")
    if dtypes.kind(x.dtype) != "f":
        return x
    if decimals == 0:
        return E.round(x)
    s = full(x.shape, 10.0 ** decimals, x.dtype)
    return E.div(E.round(E.mul(x, s)), s)


around = round


def trunc(x):
    (x,) = promote(x, to_float=True, op="trunc")
    return E.round_toward_zero(x)


fix = trunc


def isfinite(x):
    (x,) = promote(x, op="isfinite")
    return E.is_finite(x) if dtypes.kind(x.dtype) == "f" else full(x.shape, True, dtypes.bool_)


def isnan(x):
    (x,) = promote(x, op="isnan")
    return E.ne_(x, x) if dtypes.kind(x.dtype) == "f" else full(x.shape, False, dtypes.bool_)


def isinf(x):
    (x,) = promote(x, op="isinf")
    if dtypes.kind(x.dtype) != "f":
        return full(x.shape, False, dtypes.bool_)
    return E.eq_(E.abs(x), full(x.shape, np.inf, x.dtype))


def clip(x, a_min=None, a_max=None, *, min=None, max=None):  # noqa: A002
    a_min = a_min if min is None else min
    a_max = a_max if max is None else max
    x = asarray(x)
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


def where(condition, x=None, y=None):
    """Elementwise ``x if condition else y`` (the one-argument form needs a concrete condition)."""
    if x is None and y is None:
        from grilly.numpy._indexing import nonzero

        return nonzero(condition)
    c = asarray(condition, bool) if dtype_kind(condition) != "b" else asarray(condition)
    x, y = promote(x, y, op="where")
    from grilly.lax.structural import broadcast_to

    shape = np.broadcast_shapes(aval_of(c).shape, aval_of(x).shape)
    return E.select(broadcast_to(c, shape), broadcast_to(x, shape), broadcast_to(y, shape))


def dtype_kind(x):
    from grilly.numpy._base import dtype_of

    return dtypes.kind(dtype_of(x))


def heaviside(x, h0):
    x, h0 = promote(x, h0, op="heaviside")
    zero, one = full(x.shape, 0, x.dtype), full(x.shape, 1, x.dtype)
    return E.select(E.lt_(x, zero), zero, E.select(E.gt_(x, zero), one, h0))


def sigmoid(x):
    (x,) = promote(x, to_float=True, op="sigmoid")
    return E.logistic(x)


def deg2rad(x):
    return multiply(asarray(x, float), math.pi / 180)


def rad2deg(x):
    return multiply(asarray(x, float), 180 / math.pi)


def hypot(x, y):
    return sqrt(add(square(x), square(y)))


def erf(x):
    (x,) = promote(x, to_float=True, op="erf")
    return E.erf(x)


def astype(x, dtype):
    return E.convert_element_type(asarray(x), dtype)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = asarray(x)
    if dtypes.kind(x.dtype) != "f":
        return x
    fi = dtypes.finfo(x.dtype)
    x = where(isnan(x), nan, x)
    x = where(equal(x, np.inf), fi.max if posinf is None else posinf, x)
    return where(equal(x, -np.inf), fi.min if neginf is None else neginf, x)
