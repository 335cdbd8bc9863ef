"""Every elementwise op, every dtype it takes, against the NumPy reference."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import grilly.lax.elementwise as E

FLOATS = [np.float32, np.float16, ml_dtypes.bfloat16]
INTS = [np.int32, np.uint32, np.int16, np.uint16, np.int8, np.uint8]
SIZES = [(), (0,), (1,), (37,), (70_001,)]
TOL = {np.dtype(np.float32): 3e-5, np.dtype(np.float16): 2e-3, np.dtype(ml_dtypes.bfloat16): 1.6e-2}

# op -> input range for floats (domain of the function)
UNARY_F = {"neg": (-5, 5), "sign": (-5, 5), "floor": (-5, 5), "ceil": (-5, 5), "round": (-5, 5),
           "exp": (-20, 20), "exp2": (-20, 20), "log": (1e-3, 50), "expm1": (-3, 3), "log1p": (-0.9, 5),
           "tanh": (-10, 10), "logistic": (-20, 20), "sin": (-6, 6), "cos": (-6, 6), "tan": (-1.4, 1.4),
           "asin": (-0.99, 0.99), "acos": (-0.99, 0.99), "atan": (-10, 10), "sinh": (-5, 5), "cosh": (-5, 5),
           "asinh": (-50, 50), "acosh": (1.01, 50), "atanh": (-0.95, 0.95), "sqrt": (0, 100), "rsqrt": (0.01, 100),
           "cbrt": (-100, 100), "abs": (-5, 5), "erf": (-4, 4), "erf_inv": (-0.99, 0.99)}
UNARY_I = ["neg", "sign", "abs", "not"]
BINARY_F = ["add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "nextafter", "eq", "ne", "lt", "le",
            "gt", "ge"]
BINARY_I = ["add", "sub", "mul", "div", "rem", "max", "min", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "xor",
            "shift_left", "shift_right_arithmetic", "shift_right_logical"]


def _prim(name):
    return getattr(E, f"{name}_p")


def _check(got, want, dtype, tol_scale=1.0):
    got, want = got[0], want[0]
    if got.dtype.kind in "fV" and got.dtype != np.bool_:
        g, w = got.astype(np.float64), want.astype(np.float64)
        tol = TOL[np.dtype(dtype)] * tol_scale
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", sorted(UNARY_F))
def test_unary_float(run, rng, op, dtype, shape):
    lo, hi = UNARY_F[op]
    x = rng.uniform(lo, hi, shape).astype(dtype)
    scale = 4.0 if op in ("exp", "exp2", "sinh", "cosh", "tan", "erf_inv", "acosh") else 1.0
    _check(*run(_prim(op), x), dtype, scale)


@pytest.mark.parametrize("dtype", INTS + [np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", UNARY_I)
def test_unary_int(run, rng, op, dtype):
    if dtype == np.bool_ and op != "not" or op == "not" and False:
        pytest.skip("not defined for bool")
    x = rng.integers(-300, 300, (1001,)).astype(dtype)
    _check(*run(_prim(op), x), dtype)


@pytest.mark.parametrize("dtype", FLOATS + INTS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("y", [0, 1, 2, 3, 5, -2])
def test_integer_pow(run, rng, dtype, y):
    x = rng.uniform(0.5, 2, (301,)) if np.dtype(dtype).kind in "fV" else rng.integers(-4, 5, (301,))
    if y < 0 and np.dtype(dtype).kind in "iu":
        x = rng.choice([1, -1] if np.dtype(dtype).kind == "i" else [1], (301,))
    _check(*run(E.integer_pow_p, x.astype(dtype), y=y), dtype, 2.0)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_is_finite(run, dtype):
    x = np.array([0, 1, np.inf, -np.inf, np.nan, -2.5], np.float32).astype(dtype)
    _check(*run(E.is_finite_p, x), dtype)


@pytest.mark.parametrize("shape", [(), (5, 7), (70_001,)])
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", BINARY_F)
def test_binary_float(run, rng, op, dtype, shape):
    a = rng.uniform(-5, 5, shape)
    b = rng.uniform(-5, 5, shape)
    if op == "pow":
        a = np.abs(a) + 0.1
        b = b / 2
    if op in ("div", "rem"):
        b = np.where(np.abs(b) < 0.5, 1.5, b)
    if op in ("eq", "ne", "le", "ge") and a.size > 2:
        b.flat[::3] = a.flat[::3]
    _check(*run(_prim(op), a.astype(dtype), b.astype(dtype)), dtype, 4.0 if op == "pow" else 1.0)


def test_float_specials(run):
    a = np.array([np.nan, 1, np.inf, -np.inf, 0.0, -0.0, 3], np.float32)
    b = np.array([1, np.nan, 2, np.inf, -0.0, 0.0, 3], np.float32)
    for op in ("max", "min", "eq", "ne", "lt", "nextafter", "atan2", "add"):
        _check(*run(_prim(op), a, b), np.float32)


@pytest.mark.parametrize("dtype", INTS + [np.bool_], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", BINARY_I)
def test_binary_int(run, rng, op, dtype):
    kind = np.dtype(dtype).kind
    if kind == "b" and op not in ("max", "min", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "xor"):
        pytest.skip("not defined for bool")
    a = rng.integers(-1000, 1000, (2001,)).astype(dtype)
    b = rng.integers(-1000, 1000, (2001,)).astype(dtype)
    if op.startswith("shift"):
        b = rng.integers(-2, 8 * np.dtype(dtype).itemsize + 3, (2001,)).astype(dtype)
    if op in ("div", "rem"):
        b[::7] = 0
    _check(*run(_prim(op), a, b), dtype)


ALL = FLOATS + INTS + [np.bool_]


@pytest.mark.parametrize("dst", ALL, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("src", ALL, ids=lambda d: np.dtype(d).name)
def test_convert(run, rng, src, dst):
    x = rng.uniform(-300, 300, (513,))
    if np.dtype(src).kind in "fV":
        x[:3] = [np.nan, 0.0, -0.0] if np.dtype(dst).kind not in "iu" else [0.0, 1.5, -1.5]
    _check(*run(E.convert_element_type_p, x.astype(src), new_dtype=np.dtype(dst)), dst if np.dtype(dst).kind in "fV"
           and dst != np.bool_ else np.int32)


def test_bitcast(run, rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    _check(*run(E.bitcast_convert_type_p, x, new_dtype=np.dtype(np.uint32)), np.uint32)
    h = rng.standard_normal((9,)).astype(ml_dtypes.bfloat16)
    _check(*run(E.bitcast_convert_type_p, h, new_dtype=np.dtype(np.int16)), np.int16)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.float16, np.uint32], ids=lambda d: np.dtype(d).name)
def test_select_n(run, rng, dtype):
    cases = [rng.integers(-9, 9, (70_001,)).astype(dtype) for _ in range(3)]
    which = rng.integers(0, 3, (70_001,)).astype(np.int32)
    _check(*run(E.select_n_p, which, *cases), dtype)
    _check(*run(E.select_n_p, which > 0, *cases[:2]), dtype)
    _check(*run(E.select_n_p, np.int32(2), *cases), dtype)
