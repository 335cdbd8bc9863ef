"""Table rows for the elementwise primitives, each against an independent NumPy formula (computed in float64
or int64 from the same inputs, then wrapped/rounded as the dtype requires)."""

from __future__ import annotations

import math

import numpy as np
from core_helpers import ALL, BF16, BOOL, F16, F32, FLOATS, I8, I32, INTS, U8, U32, Case, rand, to_f64

import grilly.lax as lax

NUMERIC = FLOATS + INTS
SIGNED = (I32, I8)


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x) if x.size else x.astype(np.float64)


def _erf_inv(y):
    """Bisection on math.erf in float64 (independent of any closed-form approximation)."""
    y = to_f64(y)
    lo, hi = np.full(y.shape, -6.0), np.full(y.shape, 6.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        below = _erf(mid) < y
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _wrap(v, dtype):
    """An int64 result wrapped into ``dtype`` (two's complement), as integer hardware does."""
    bits = 8 * np.dtype(dtype).itemsize
    u = np.asarray(v, dtype=np.int64) & ((1 << bits) - 1)
    if np.dtype(dtype).kind == "i":
        u = np.where(u >= 1 << (bits - 1), u - (1 << bits), u)
    return u.astype(dtype)


def unary(name, fn, ref, lo=-2.0, hi=2.0, dtypes=FLOATS, prim=None, **kw):
    return Case(name, (prim or name,), fn, lambda rng, s, d: [rand(rng, s, d, lo, hi)],
                lambda x: ref(to_f64(x)) if x.dtype.kind == "f" or x.dtype == BF16 else ref(x), dtypes, **kw)


def _halves(rng, s, d):
    return [(np.round(rand(rng, s, F32, -4, 4) * 2) / 2).astype(d)]  # exact .5 ties for round-half-even


def _special(rng, s, d):
    x = rand(rng, s, d, -3, 3)
    if x.size:
        flat = x.reshape(-1)
        flat[:: 3] = np.array(np.inf).astype(d)
        flat[1:: 5] = np.array(np.nan).astype(d)
        flat[2:: 7] = np.array(-np.inf).astype(d)
    return [x]


def _int_ref(f):
    return lambda x: _wrap(f(x.astype(np.int64)), x.dtype)


UNARY = [
    unary("neg", lax.neg, lambda x: -x, dtypes=FLOATS),
    Case("neg_int", ("neg",), lax.neg, lambda rng, s, d: [rand(rng, s, d, -100, 100)], _int_ref(np.negative), INTS),
    unary("sign", lax.sign, np.sign, dtypes=FLOATS),
    Case("sign_int", ("sign",), lax.sign, lambda rng, s, d: [rand(rng, s, d, -3, 3)], _int_ref(np.sign), INTS),
    Case("floor", ("floor",), lax.floor, _halves, lambda x: np.floor(to_f64(x)), FLOATS),
    Case("ceil", ("ceil",), lax.ceil, _halves, lambda x: np.ceil(to_f64(x)), FLOATS),
    Case("round_half_even", ("round",), lax.round, _halves, lambda x: np.round(to_f64(x)), FLOATS),
    unary("exp", lax.exp, np.exp, -3, 3),
    unary("exp2", lax.exp2, lambda x: 2.0 ** x, -3, 3),
    unary("log", lax.log, np.log, 0.1, 5),
    unary("expm1", lax.expm1, lambda x: np.exp(x) - 1, -1, 1, atol=None),
    unary("log1p", lax.log1p, lambda x: np.log(1 + x), -0.5, 3),
    unary("tanh", lax.tanh, lambda x: (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1), -3, 3),
    unary("logistic", lax.logistic, lambda x: 1 / (1 + np.exp(-x)), -5, 5),
    unary("sin", lax.sin, np.sin, -3, 3),
    unary("cos", lax.cos, np.cos, -3, 3),
    unary("tan", lax.tan, lambda x: np.sin(x) / np.cos(x), -1.2, 1.2),
    unary("asin", lax.asin, np.arcsin, -0.95, 0.95),
    unary("acos", lax.acos, np.arccos, -0.95, 0.95),
    unary("atan", lax.atan, np.arctan, -4, 4),
    unary("sinh", lax.sinh, lambda x: (np.exp(x) - np.exp(-x)) / 2, -3, 3),
    unary("cosh", lax.cosh, lambda x: (np.exp(x) + np.exp(-x)) / 2, -3, 3),
    unary("asinh", lax.asinh, lambda x: np.log(x + np.sqrt(x * x + 1)), -4, 4),
    unary("acosh", lax.acosh, lambda x: np.log(x + np.sqrt(x * x - 1)), 1.1, 5),
    unary("atanh", lax.atanh, lambda x: 0.5 * np.log((1 + x) / (1 - x)), -0.9, 0.9),
    unary("sqrt", lax.sqrt, np.sqrt, 0, 5),
    unary("rsqrt", lax.rsqrt, lambda x: 1 / np.sqrt(x), 0.1, 5),
    unary("cbrt", lax.cbrt, lambda x: np.sign(x) * np.abs(x) ** (1 / 3), -5, 5),
    unary("abs", lax.abs, np.abs),
    Case("abs_int", ("abs",), lax.abs, lambda rng, s, d: [rand(rng, s, d, -100, 100)], _int_ref(np.abs), SIGNED),
    unary("erf", lax.erf, _erf, -2.5, 2.5),
    unary("erf_inv", lax.erf_inv, _erf_inv, -0.95, 0.95, dtypes=(F32,), rtol=1e-5),
    Case("not_bool", ("not",), lax.bitwise_not, lambda rng, s, d: [rand(rng, s, d)], np.logical_not, (BOOL,)),
    Case("not_int", ("not",), lax.bitwise_not, lambda rng, s, d: [rand(rng, s, d, -1e9, 1e9)], np.invert, INTS),
    Case("is_finite", ("is_finite",), lax.is_finite, _special, lambda x: np.isfinite(to_f64(x)), FLOATS,
         out=lambda d: BOOL),
    unary("integer_pow_3", lambda x: lax.integer_pow(x, 3), lambda x: x ** 3, prim="integer_pow"),
    unary("integer_pow_neg2", lambda x: lax.integer_pow(x, -2), lambda x: x ** -2.0, 0.5, 2, prim="integer_pow"),
    Case("integer_pow_int", ("integer_pow",), lambda x: lax.integer_pow(x, 2),
         lambda rng, s, d: [rand(rng, s, d, -10, 10)], _int_ref(lambda x: x * x), INTS),
]


# ---- binary ---------------------------------------------------------------------------------------------------

def binary(name, fn, ref, dtypes=NUMERIC, lo=-3.0, hi=3.0, ylo=None, yhi=None, prim=None, **kw):
    def args(rng, s, d):
        return [rand(rng, s, d, lo, hi), rand(rng, s, d, lo if ylo is None else ylo, hi if yhi is None else yhi)]

    def ref_(x, y):
        if x.dtype.kind == "f" or x.dtype == BF16:
            return ref(to_f64(x), to_f64(y))
        if x.dtype == BOOL:
            return ref(x, y)
        return _wrap(ref(x.astype(np.int64), y.astype(np.int64)), x.dtype)

    return Case(name, (prim or name,), fn, args, ref_, dtypes, **kw)


def _nonzero_divisor(rng, s, d):
    x = rand(rng, s, d, -100, 100)
    mag = rand(rng, s, d, 1, 9) if d.kind in "iu" else rand(rng, s, d, 0.5, 3)
    neg = rand(rng, s, BOOL) & (d.kind != "u")
    y = np.where(neg, -mag.astype(np.float64), mag.astype(np.float64)).astype(d)
    return [x, y]


def _div_ref(x, y):
    if x.dtype.kind in "iu":
        return _wrap(np.trunc(x.astype(np.float64) / y.astype(np.float64)), x.dtype)
    return to_f64(x) / to_f64(y)


def _rem_ref(x, y):
    if x.dtype.kind in "iu":
        return np.fmod(x.astype(np.int64), y.astype(np.int64)).astype(x.dtype)
    return np.fmod(to_f64(x), to_f64(y))


def _coarse(rng, s, d):  # few distinct values, so comparisons see ties
    if d == BOOL:
        return [rand(rng, s, d), rand(rng, s, d)]
    return [(np.round(rand(rng, s, F32, 0, 4))).astype(d), (np.round(rand(rng, s, F32, 0, 4))).astype(d)]


def _next_ref(x, y):
    """The neighbour of x toward y, by stepping the bit pattern (works for bfloat16 too)."""
    ubits = np.dtype(f"u{x.dtype.itemsize}")
    xf, yf = to_f64(x), to_f64(y)
    bits = x.view(ubits).astype(np.int64)
    toward_bigger_mag = (yf > xf) == (xf >= 0)
    stepped = np.where(toward_bigger_mag, bits + 1, bits - 1).astype(ubits).view(x.dtype)
    out = np.where(xf == yf, y, stepped)
    zero = xf == 0
    tiny = np.array(1, dtype=ubits).view(x.dtype)
    return np.where(zero & (yf != 0), np.where(yf > 0, tiny, -tiny), out)


def _shift_args(signed_neg):
    def args(rng, s, d):
        bits = 8 * d.itemsize
        lo = -2 if (signed_neg and d.kind == "i") else 0
        return [rand(rng, s, d, -1e9, 1e9), rand(rng, s, d, lo, bits + 2)]

    return args


def _shl_ref(x, y):
    bits = 8 * x.dtype.itemsize
    ok = (y.astype(np.int64) >= 0) & (y.astype(np.int64) < bits)
    return np.where(ok, _wrap(x.astype(np.int64) << np.where(ok, y, 0).astype(np.int64), x.dtype), 0).astype(x.dtype)


def _shr_logical_ref(x, y):
    bits = 8 * x.dtype.itemsize
    u = x.view(np.dtype(f"u{x.dtype.itemsize}")).astype(np.int64)
    ok = (y.astype(np.int64) >= 0) & (y.astype(np.int64) < bits)
    return np.where(ok, u >> np.where(ok, y, 0).astype(np.int64), 0).astype(x.dtype.str.replace("i", "u")).view(
        x.dtype)


def _shr_arith_ref(x, y):
    """Sign-propagating shift of the bit pattern, unsigned dtypes included (as XLA does)."""
    bits = 8 * x.dtype.itemsize
    yy = y.astype(np.int64)
    s = np.where((yy < 0) | (yy >= bits), bits - 1, yy)
    signed = x.view(np.dtype(f"i{x.dtype.itemsize}")).astype(np.int64)
    return (signed >> s).astype(np.dtype(f"i{x.dtype.itemsize}")).view(x.dtype)


CMP = [("eq", lax.eq, np.equal), ("ne", lax.ne, np.not_equal), ("lt", lax.lt, np.less),
       ("le", lax.le, np.less_equal), ("gt", lax.gt, np.greater), ("ge", lax.ge, np.greater_equal)]

BINARY = [
    binary("add", lax.add, np.add, lo=-100, hi=100),
    binary("sub", lax.sub, np.subtract, lo=-100, hi=100),
    binary("mul", lax.mul, np.multiply, lo=-100, hi=100),
    Case("div", ("div",), lax.div, _nonzero_divisor, _div_ref, NUMERIC),
    Case("rem", ("rem",), lax.rem, _nonzero_divisor, _rem_ref, NUMERIC),
    binary("pow", lax.pow, np.power, FLOATS, 0.2, 3.0, -2.0, 2.0),
    binary("max", lax.max, np.maximum, ALL),
    binary("min", lax.min, np.minimum, ALL),
    binary("atan2", lax.atan2, np.arctan2, FLOATS),
    Case("nextafter", ("nextafter",), lax.nextafter, _coarse, _next_ref, FLOATS, rtol=0, atol=0),
    *[Case(n, (n,), f, _coarse, r, ALL, out=lambda d: BOOL) for n, f, r in CMP],
    binary("and", lax.bitwise_and, np.bitwise_and, INTS + (BOOL,), -1e9, 1e9),
    binary("or", lax.bitwise_or, np.bitwise_or, INTS + (BOOL,), -1e9, 1e9),
    binary("xor", lax.bitwise_xor, np.bitwise_xor, INTS + (BOOL,), -1e9, 1e9),
    Case("shift_left", ("shift_left",), lax.shift_left, _shift_args(True), _shl_ref, INTS),
    Case("shift_right_logical", ("shift_right_logical",), lax.shift_right_logical, _shift_args(True),
         _shr_logical_ref, INTS),
    Case("shift_right_arithmetic", ("shift_right_arithmetic",), lax.shift_right_arithmetic, _shift_args(True),
         _shr_arith_ref, INTS),
]


# ---- select_n, conversions ------------------------------------------------------------------------------------

def _select2(rng, s, d):
    return [rand(rng, s, BOOL), rand(rng, s, d, -50, 50), rand(rng, s, d, -50, 50)]


def _select3(rng, s, d):
    return [rand(rng, s, I32, 0, 2), *[rand(rng, s, d, -50, 50) for _ in range(3)]]


def _convert_ref(x, target):
    if target == BOOL:
        return x != 0
    if (x.dtype.kind == "f" or x.dtype == BF16) and target.kind in "iu":
        info = np.iinfo(target)
        return np.clip(np.nan_to_num(np.trunc(to_f64(x)), nan=0), info.min, info.max).astype(target)
    if x.dtype.kind in "iub" and target.kind in "iu":
        return _wrap(x.astype(np.int64), target)
    return to_f64(x)


def _convert_case(target):
    return Case(f"convert_to_{target}", ("convert_element_type",), lambda x: lax.convert_element_type(x, target),
                lambda rng, s, d: [rand(rng, s, d, -300, 300)], lambda x: _convert_ref(x, target), ALL,
                out=lambda d: target)


BITCASTS = {F32: U32, U32: F32, I32: F32, I8: U8, U8: I8, F16: np.dtype(np.uint16), BF16: np.dtype(np.int16)}

OTHER = [
    Case("select_n_bool", ("select_n",), lambda p, a, b: lax.select_n(p, a, b), _select2,
         lambda p, a, b: np.where(p, b, a), ALL),
    Case("select_n_int", ("select_n",), lambda w, a, b, c: lax.select_n(w, a, b, c), _select3,
         lambda w, a, b, c: np.choose(w, [a, b, c]) if a.size else a, ALL),
    *[_convert_case(t) for t in ALL],
    Case("bitcast", ("bitcast_convert_type",), lambda x: lax.bitcast_convert_type(x, BITCASTS[x.dtype]),
         lambda rng, s, d: [rand(rng, s, d, -100, 100)], lambda x: x.view(BITCASTS[x.dtype]),
         tuple(BITCASTS), out=lambda d: BITCASTS[d], rtol=0, atol=0),
]

CASES = UNARY + BINARY + OTHER
