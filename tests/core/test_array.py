"""The Array: immutability, operators, NumPy-style indexing, ``.at[]`` updates, conversion, repr, dtypes."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from core_helpers import BF16

import grilly
import grilly.numpy as gnp

X = np.arange(60, dtype=np.float32).reshape(3, 4, 5)

BASIC_INDICES = [
    1, -1, (0, 2), (slice(None), 1), (Ellipsis, 0), (0, Ellipsis), (1, Ellipsis, 2), slice(None, None, -1),
    (slice(None), slice(None, None, -2)), (slice(3, 0, -1), slice(None), slice(-1, None, -3)),
    (slice(1, 3), slice(-3, None)), (None, 0), (slice(None), None, 2), (Ellipsis, None),
    (None, Ellipsis, None), (slice(10, 20),), (slice(0, 0),), (-3, -4, -5), (slice(None, None, 2), 1, None),
]
ADVANCED_INDICES = [
    np.array([0, 2, 2]), (np.array([2, 0]), 1), (slice(None), np.array([3, -1, 0])),
    (slice(None), slice(None), np.array([[4, 0], [1, 2]])), (np.array([0, 1]), np.array([3, 2])),
    (np.array([0, 2]), slice(None), np.array([1, 4])), (1, np.array([0, 3]), slice(1, 4)),
    (np.array([[0], [2]]), np.array([1, 3])), (Ellipsis, np.array([0, -1])), [0, 1],
    (slice(None), np.array([True, False, True, True])), np.array([True, False, True]),
    X[:, :, 0] > 20, (X > 30,), (0, X[0] % 3 == 0), [], ([], 1), True, False, (0, True), (np.True_, 1),
    (Ellipsis, False), (np.array([], np.int64), slice(None)),
]


@pytest.mark.parametrize("idx", BASIC_INDICES + ADVANCED_INDICES, ids=repr)
def test_getitem_matches_numpy(idx):
    got = gnp.asarray(X)[idx]
    np.testing.assert_array_equal(np.asarray(got), X[idx])
    assert got.shape == X[idx].shape


@pytest.mark.parametrize("idx", BASIC_INDICES[:8] + ADVANCED_INDICES[:6], ids=repr)
def test_getitem_under_jit(idx):
    got = grilly.jit(lambda a: a[idx])(X)
    np.testing.assert_array_equal(np.asarray(got), X[idx])


def test_getitem_with_grilly_index_arrays_and_scalars():
    x = gnp.asarray(X)
    i = gnp.asarray(np.array([2, 0], np.int32))
    np.testing.assert_array_equal(np.asarray(x[i, 1:3]), X[[2, 0], 1:3])
    np.testing.assert_array_equal(np.asarray(x[gnp.asarray(np.int32(1))]), X[1])
    np.testing.assert_array_equal(np.asarray(x[np.int64(2), np.uint8(1)]), X[2, 1])


def test_getitem_errors():
    x = gnp.asarray(X)
    with pytest.raises(IndexError, match="out of bounds"):
        x[3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError, match="integer"):
        x[np.array([0.5])]
    with pytest.raises(grilly.ConcretizationError, match="boolean mask"):
        grilly.jit(lambda a: a[a > 3])(x)


AT_CASES = [
    (1, 7.0), ((0, slice(1, 3)), np.arange(5, dtype=np.float32)), ((Ellipsis, -1), 0.5),
    (np.array([0, 2]), 3.0), ((slice(None), np.array([1, 1, 3])), 2.0), (X > 40, -1.0),
    ((slice(None, None, -1), 0, slice(None, None, 2)), 9.0),
]


@pytest.mark.parametrize("idx,val", AT_CASES, ids=[repr(c[0])[:40] for c in AT_CASES])
@pytest.mark.parametrize("mode", ["set", "add", "mul", "min", "max", "get"])
def test_at_updates_match_numpy(idx, val, mode):
    x = gnp.asarray(X)
    want = X.copy()
    if mode == "get":
        np.testing.assert_array_equal(np.asarray(x.at[idx].get()), X[idx])
        return
    if mode == "set":
        want[idx] = val
    else:
        ufunc = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}[mode]
        # repeated indices accumulate, as in JAX (NumPy's ufunc.at does the same)
        flat_pos = np.arange(X.size).reshape(X.shape)[idx].reshape(-1)
        vals = np.broadcast_to(np.asarray(val, np.float32), X[idx].shape).reshape(-1)
        flat = want.reshape(-1)
        ufunc.at(flat, flat_pos, vals)
    out = getattr(x.at[idx], mode)(val)
    np.testing.assert_array_equal(np.asarray(out), want)
    np.testing.assert_array_equal(np.asarray(x), X)  # the original is unchanged


def test_at_multiply_alias_and_dtype_cast():
    x = gnp.arange(4)
    assert x.at[1].multiply(5).tolist() == [0, 5, 2, 3]
    assert x.at[2].set(7.9).dtype == x.dtype and x.at[2].set(7.9).tolist() == [0, 1, 7, 3]


def test_immutability():
    x = gnp.asarray(X)
    with pytest.raises(TypeError):
        x[0] = 1.0
    view = np.asarray(x)
    with pytest.raises(ValueError):
        view[0, 0, 0] = 5.0  # the host copy handed out by np.asarray is read-only or a copy
    assert float(x[0, 0, 0]) == 0.0
    y = x + 1
    assert float(x[0, 0, 0]) == 0.0 and float(y[0, 0, 0]) == 1.0
    assert copy.copy(x) is x and copy.deepcopy(x) is x
    assert hash(x.shape) is not None
    with pytest.raises(TypeError):
        hash(x)


def test_asarray_and_numpy_conversion():
    x = gnp.asarray(X)
    assert isinstance(np.asarray(x), np.ndarray)
    np.testing.assert_array_equal(np.asarray(x), X)
    np.testing.assert_array_equal(x.numpy(), X)
    assert np.asarray(x, dtype=np.int32).dtype == np.int32
    assert x[1, 2, 3].item() == X[1, 2, 3] and x.tolist() == X.tolist()
    assert float(gnp.asarray(2.5)) == 2.5 and int(gnp.asarray(7)) == 7 and bool(gnp.asarray(True))
    assert np.exp(x).shape == X.shape  # NumPy ufuncs accept grilly arrays
    with pytest.raises(grilly.ConcretizationError, match="size-1"):
        float(x)
    r = pickle.loads(pickle.dumps(x))
    np.testing.assert_array_equal(np.asarray(r), X)


def test_repr_and_str():
    x = gnp.asarray(np.array([[1.0, 2.0]], np.float32))
    assert repr(x) == "Array([[1., 2.]], dtype=float32)"
    assert str(x) == str(np.array([[1.0, 2.0]], np.float32))
    assert repr(gnp.asarray(3)) == "Array(3, dtype=int32)"
    assert f"{gnp.asarray(2.5):.2f}" == "2.50"
    assert "bfloat16" in repr(gnp.ones(2, BF16))


def test_properties():
    x = gnp.asarray(X)
    assert x.shape == (3, 4, 5) and x.ndim == 3 and x.size == 60 and len(x) == 3
    assert x.dtype == np.float32 and x.itemsize == 4 and x.nbytes == 240
    assert x.T.shape == (5, 4, 3) and x.mT.shape == (3, 5, 4)
    assert x.backend == grilly.default_backend()
    assert [r.shape for r in x] == [(4, 5)] * 3
    with pytest.raises(TypeError):
        len(gnp.asarray(1.0))


OPERATORS = [
    ("+", lambda a, b: a + b), ("-", lambda a, b: a - b), ("*", lambda a, b: a * b), ("/", lambda a, b: a / b),
    ("//", lambda a, b: a // b), ("%", lambda a, b: a % b), ("**", lambda a, b: a ** b),
    ("<", lambda a, b: a < b), ("<=", lambda a, b: a <= b), (">", lambda a, b: a > b), (">=", lambda a, b: a >= b),
    ("==", lambda a, b: a == b), ("!=", lambda a, b: a != b),
]


@pytest.mark.parametrize("op", OPERATORS, ids=[o[0] for o in OPERATORS])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_binary_operators_match_numpy(op, dtype, rng):
    _, f = op
    a = rng.integers(-9, 10, (3, 4)).astype(dtype)
    b = rng.integers(1, 5, (4,)).astype(dtype)  # broadcasting, positive divisors
    if op[0] == "**" and dtype == np.int32:
        a = np.abs(a)
    for lhs, rhs, lw, rw in [(gnp.asarray(a), gnp.asarray(b), a, b), (gnp.asarray(a), 3, a, dtype(3)),
                             (2, gnp.asarray(b), dtype(2), b), (a, gnp.asarray(b), a, b)]:
        got, want = f(lhs, rhs), f(lw, rw)
        assert isinstance(got, grilly.Array), f"{op[0]} gave {type(got)}"
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, err_msg=op[0])
        want_dt = np.float32 if want.dtype == np.float64 else want.dtype  # int / int: the default float
        assert np.asarray(got).dtype == want_dt, f"{op[0]}: {np.asarray(got).dtype} vs {want_dt}"


def test_unary_bitwise_and_matmul_operators(rng):
    a = rng.integers(-9, 10, (3, 4)).astype(np.int32)
    b = rng.integers(0, 4, (3, 4)).astype(np.int32)
    x = gnp.asarray(a)
    for got, want in [(-x, -a), (+x, a), (abs(x), abs(a)), (~x, ~a), (x & b, a & b), (x | b, a | b),
                      (x ^ b, a ^ b), (x << b, a << b), (x >> b, a >> b), (x @ b.T, a @ b.T)]:
        np.testing.assert_array_equal(np.asarray(got), want)
    m = gnp.asarray(a > 0)
    np.testing.assert_array_equal(np.asarray(~m), ~(a > 0))


def test_weak_python_scalars_keep_array_dtype():
    h = gnp.ones(3, np.float16)
    assert (h * 2.5).dtype == np.float16 and (h + 1).dtype == np.float16
    assert (gnp.ones(3, np.int8) + 1).dtype == np.int8
    assert (gnp.ones(3, np.int32) * 1.5).dtype == np.float32
    assert (gnp.ones(3, np.float16) + gnp.ones(3, np.float32)).dtype == np.float32
    assert (gnp.ones(3, BF16) + gnp.ones(3, np.float16)).dtype == np.float32
    assert (gnp.ones(3, np.uint8) + gnp.ones(3, np.int8)).dtype == np.int16
    # the scalar on either side, every float dtype, and the cases the short path must leave to the general rule
    b = gnp.ones(3, BF16)
    assert (2.0 - b).dtype == BF16 and (3 * b).dtype == BF16 and np.asarray(2.0 - b).astype(float).tolist() == [1.0] * 3
    assert (7 - gnp.ones(3, np.uint8)).dtype == np.uint8 and (gnp.arange(3) / 2).dtype == np.float32
    assert (gnp.ones(3, bool) + 1).dtype == np.int32 and (gnp.ones(3, bool) * 1.5).dtype == np.float32
    assert (gnp.ones(3, np.int32) + True).dtype == np.int32 and (1.5 < gnp.ones(3)).dtype == np.bool_


# JAX's promotion lattice (x64 off): any float absorbs ints and bools; mixed signedness widens
PROMOTIONS = [
    (np.int32, np.float16, np.float16), (np.uint8, BF16, BF16), (np.bool_, np.float16, np.float16),
    (np.int8, np.uint8, np.int16), (np.int32, np.uint32, np.int32), (np.uint8, np.uint32, np.uint32),
    (np.bool_, np.int8, np.int8), (np.float16, BF16, np.float32), (np.float16, np.float32, np.float32),
    (BF16, np.float32, np.float32), (np.int8, np.int32, np.int32), (np.int32, np.float32, np.float32),
]


@pytest.mark.parametrize("a,b,want", PROMOTIONS, ids=[f"{np.dtype(a)}+{np.dtype(b)}" for a, b, _ in PROMOTIONS])
def test_type_promotion_lattice(a, b, want):
    for x, y in ((gnp.ones(2, a), gnp.ones(2, b)), (gnp.ones(2, b), gnp.ones(2, a))):
        assert (x * y).dtype == np.dtype(want), f"{x.dtype} * {y.dtype} -> {(x * y).dtype}, expected {want}"


def test_x64_switch_narrows_64_bit_types():
    assert gnp.asarray(np.zeros(2, np.float64)).dtype == np.float32
    assert gnp.asarray(np.zeros(2, np.int64)).dtype == np.int32
    assert gnp.asarray(np.zeros(2, np.uint64)).dtype == np.uint32
    assert gnp.asarray(1.5).dtype == np.float32 and gnp.asarray(3).dtype == np.int32
    assert gnp.arange(3).dtype == np.int32 and gnp.zeros(2, dtype=float).dtype == np.float32
    grilly.config.update("enable_x64", True)
    try:
        from core_helpers import default_backend

        with default_backend("numpy"):
            assert gnp.asarray(np.zeros(2, np.float64)).dtype == np.float64
            assert gnp.asarray(np.zeros(2, np.int64)).dtype == np.int64
            assert gnp.asarray(1.5).dtype == np.float64 and gnp.asarray(3).dtype == np.int64
            x = gnp.asarray(np.array([1 / 3], np.float64))
            assert np.asarray(x * 3.0)[0] == 1.0 and (x * 3.0).dtype == np.float64
    finally:
        grilly.config.update("enable_x64", False)
    assert gnp.asarray(1.5).dtype == np.float32
    with pytest.raises(ValueError, match="unknown config option"):
        grilly.config.update("enable_x65", True)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16, np.int32, np.uint32, np.int8, np.uint8, np.bool_])
def test_roundtrip_every_dtype(dtype, rng):
    a = (rng.standard_normal((2, 3)) * 5).astype(dtype)
    x = gnp.asarray(a)
    assert x.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(x), a)
    np.testing.assert_array_equal(np.asarray(grilly.device_put(x, "numpy")), a)


def test_unsupported_inputs_raise():
    with pytest.raises(TypeError, match="cannot make a grilly array"):
        gnp.asarray(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="cannot make a grilly array"):
        gnp.asarray(np.array([1 + 2j]))


def test_backends_do_not_mix_silently():
    if grilly.default_backend() != "vulkan":
        pytest.skip("needs two backends")
    a = grilly.device_put(gnp.ones(3), "vulkan")
    b = grilly.device_put(gnp.ones(3), "numpy")
    assert b.backend == "numpy" and a.backend == "vulkan"
    with pytest.raises(grilly.BackendError, match="different devices"):
        a + b
    assert (gnp.ones(3) + b).backend == "numpy"  # an uncommitted operand follows the committed one, as in JAX


def test_traced_indices_under_jit_vmap_grad():
    y = X[0]
    np.testing.assert_array_equal(np.asarray(grilly.jit(lambda x, i: x[i])(y, -1)), y[-1])
    np.testing.assert_array_equal(np.asarray(grilly.jit(lambda x, i, j: x[i, j])(X, 2, 3)), X[2, 3])
    want = y.copy()
    want[2] = 0
    np.testing.assert_array_equal(np.asarray(grilly.jit(lambda x, i: x.at[i].set(0.0))(y, 2)), want)
    got = grilly.vmap(lambda i: gnp.asarray(y)[i])(np.array([2, 0, -1], np.int32))
    np.testing.assert_array_equal(np.asarray(got), y[[2, 0, -1]])
    got = grilly.vmap(lambda i: gnp.zeros(4).at[i].add(1.0))(np.array([1, 3], np.int32))
    np.testing.assert_array_equal(np.asarray(got), np.eye(4, dtype=np.float32)[[1, 3]])
    g = grilly.grad(lambda x, i: x[i] ** 2)(np.array([1.0, 2.0, 3.0], np.float32), 1)
    np.testing.assert_array_equal(np.asarray(g), [0.0, 4.0, 0.0])
