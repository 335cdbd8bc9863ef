"""grilly.numpy against NumPy: each row is one expression ``f(module, *arrays)`` run with ``numpy`` and with
``grilly.numpy``; values must agree and the dtype must be NumPy's, narrowed to 32 bits (x64 off)."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp

_rng = np.random.default_rng(42)
A = _rng.uniform(-2, 2, (3, 4, 5)).astype(np.float32)
M = _rng.uniform(-2, 2, (4, 5)).astype(np.float32)
N = _rng.uniform(-2, 2, (5, 3)).astype(np.float32)
V = _rng.uniform(-2, 2, 5).astype(np.float32)
P = _rng.uniform(0.1, 3, (4, 5)).astype(np.float32)
I = _rng.integers(-20, 20, (4, 5)).astype(np.int32)  # noqa: E741
S = np.sort(_rng.uniform(-2, 2, 7)).astype(np.float32)
NAN = np.array([1.0, np.nan, -np.inf, np.inf, -2.0], np.float32)
SQ = _rng.uniform(-2, 2, (4, 4)).astype(np.float32)


def R(name, f, *args, rtol=1e-5, atol=1e-6):  # noqa: N802
    return pytest.param(f, args, rtol, atol, id=name)


CREATION = [
    R("zeros", lambda m: m.zeros((2, 3))), R("ones_int", lambda m: m.ones((2,), dtype=np.int8)),
    R("full", lambda m: m.full((2, 2), 7.5)), R("full_int", lambda m: m.full((3,), 4)),
    R("arange_int", lambda m: m.arange(5)), R("arange_float_step", lambda m: m.arange(1.0, 3.0, 0.5)),
    R("arange_negative", lambda m: m.arange(5, -3, -2)), R("linspace", lambda m: m.linspace(0.0, 1.0, 7)),
    R("linspace_no_endpoint", lambda m: m.linspace(-1.0, 1.0, 4, endpoint=False)),
    R("eye", lambda m: m.eye(3, 4, k=1)), R("zeros_like", lambda m, x: m.zeros_like(x), I),
    R("ones_like_dtype", lambda m, x: m.ones_like(x, dtype=np.float32), I),
    R("full_like", lambda m, x: m.full_like(x, 2.5), M), R("tril", lambda m, x: m.tril(x, -1), SQ),
    R("triu", lambda m, x: m.triu(x, 1), M), R("diag_vector", lambda m, v: m.diag(v, 1), V),
    R("diag_matrix", lambda m, x: m.diag(x), SQ), R("meshgrid", lambda m, a, b: m.meshgrid(a, b), V, S),
    R("meshgrid_ij", lambda m, a, b: m.meshgrid(a, b, indexing="ij"), V, S),
]

MATH = [
    *[R(n, lambda m, x, n=n: getattr(m, n)(x), P) for n in (
        "exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sqrt", "cbrt", "sin", "cos", "tan", "tanh",
        "arctan", "sinh", "cosh", "arcsinh", "floor", "ceil", "rint", "trunc", "square", "reciprocal",
        "negative", "positive", "sign", "abs", "deg2rad", "rad2deg")],
    R("arcsin", lambda m, x: m.arcsin(x / 4), P), R("arccos", lambda m, x: m.arccos(x / 4), P),
    R("arccosh", lambda m, x: m.arccosh(x + 1), P), R("arctanh", lambda m, x: m.arctanh(x / 4), P),
    R("abs_int", lambda m, x: m.abs(x), I), R("sign_int", lambda m, x: m.sign(x), I),
    R("add_broadcast", lambda m, x, v: m.add(x, v), M, V), R("subtract", lambda m, x, y: m.subtract(x, y), M, P),
    R("multiply_scalar", lambda m, x: m.multiply(x, 3), I), R("true_divide_int", lambda m, x: m.true_divide(x, 4), I),
    R("floor_divide_float", lambda m, x, y: m.floor_divide(x, y), M, P),
    R("floor_divide_int", lambda m, x: m.floor_divide(x, 3), I), R("floor_divide_int_neg", lambda m, x: x // -3, I),
    R("remainder_float", lambda m, x, y: m.remainder(x, y), M, P),
    R("remainder_int", lambda m, x: m.remainder(x, 7), I),
    R("remainder_int_neg", lambda m, x: m.remainder(x, -7), I), R("fmod", lambda m, x: m.fmod(x, 3), I),
    R("power", lambda m, x, y: m.power(x, y), P, M), R("power_int", lambda m, x: m.power(x, 2), I),
    R("maximum", lambda m, x, y: m.maximum(x, y), M, P), R("minimum", lambda m, x, v: m.minimum(x, v), M, V),
    R("arctan2", lambda m, x, y: m.arctan2(x, y), M, P), R("hypot", lambda m, x, y: m.hypot(x, y), M, P),
    R("logaddexp", lambda m, x, y: m.logaddexp(x, y), M, P),
    R("round_decimals", lambda m, x: m.round(x, 2), M),
    R("round_half_even", lambda m: m.round(m.asarray([0.5, 1.5, 2.5, -0.5]))),
    R("clip", lambda m, x: m.clip(x, -1.0, 0.5), M), R("clip_none_min", lambda m, x: m.clip(x, None, 3), I),
    R("where", lambda m, x, y: m.where(x > 0, x, y), M, P), R("where_scalar", lambda m, x: m.where(x > 0, x, 0.0), M),
    R("isnan", lambda m, x: m.isnan(x), NAN), R("isinf", lambda m, x: m.isinf(x), NAN),
    R("isfinite", lambda m, x: m.isfinite(x), NAN), R("nan_to_num", lambda m, x: m.nan_to_num(x), NAN),
    R("logical_ops", lambda m, x, y: (m.logical_and(x > 0, y > 1), m.logical_or(x > 0, y > 1),
                                      m.logical_xor(x > 0, y > 1), m.logical_not(x > 0)), M, P),
    R("bitwise", lambda m, x: (m.bitwise_and(x, 6), m.bitwise_or(x, 9), m.bitwise_xor(x, 3), m.invert(x),
                               m.left_shift(x, 2), m.right_shift(x, 1)), I),
    R("comparisons", lambda m, x, y: (m.equal(x, y), m.not_equal(x, y), m.less(x, y), m.less_equal(x, y),
                                      m.greater(x, y), m.greater_equal(x, y)), I, I.T.copy().reshape(4, 5)),
    R("heaviside", lambda m, x: m.heaviside(x, 0.5), np.array([-1.0, 0.0, 2.0], np.float32)),
    R("bool_add_mul", lambda m, x, y: (m.add(x > 0, y > 1), (x > 0) * (y > 1)), M, P),
    R("uint8_ops", lambda m, u: (m.cumsum(u), m.sum(u), u + 3, u * 2, m.negative(u), u // 7), np.array([1, 200, 255],
                                                                                                   np.uint8)),
]

REDUCTIONS = [
    *[R(f"{n}_{ax}_{kd}", lambda m, x, n=n, ax=ax, kd=kd: getattr(m, n)(x, axis=ax, keepdims=kd), A)
      for n in ("sum", "prod", "max", "min", "mean", "var", "std") for ax in (None, 0, -1, (0, 2))
      for kd in (False, True)],
    R("sum_int8_promotes", lambda m, x: m.sum(x.astype(np.int8)), I), R("sum_bool", lambda m, x: m.sum(x > 0), I),
    R("sum_dtype", lambda m, x: m.sum(x, dtype=np.float32), I),
    R("prod_int", lambda m, x: m.prod(x[:, :2], axis=1), I),
    R("mean_int", lambda m, x: m.mean(x, axis=0), I), R("var_ddof", lambda m, x: m.var(x, axis=1, ddof=1), M),
    R("std_ddof", lambda m, x: m.std(x, ddof=1), M), R("max_initial", lambda m, x: m.max(x, axis=0, initial=1.0), M),
    R("any_all", lambda m, x: (m.any(x > 1.5, axis=1), m.all(x > -1.9, axis=0, keepdims=True)), M),
    R("argmax_none", lambda m, x: m.argmax(x), A), R("argmax_axis", lambda m, x: m.argmax(x, axis=1), A),
    R("argmin_neg_axis", lambda m, x: m.argmin(x, axis=-1), A),
    R("argmax_keepdims", lambda m, x: m.argmax(x, axis=2, keepdims=True), A),
    R("cumsum_none", lambda m, x: m.cumsum(x), M), R("cumsum_axis", lambda m, x: m.cumsum(x, axis=1), I),
    R("cumprod_axis", lambda m, x: m.cumprod(x, axis=0), P),
    R("amax_amin", lambda m, x: (m.amax(x), m.amin(x, 1)), M),
]

LINALG = [
    R("matmul_2d", lambda m, x, y: m.matmul(x, y), M, N), R("matmul_batch", lambda m, x, y: x @ y, A, N),
    R("matmul_vec_mat", lambda m, v, y: m.matmul(v, y), V, N), R("matmul_mat_vec", lambda m, x, v: x @ v, M, V),
    R("matmul_vec_vec", lambda m, v: m.matmul(v, v), V),
    R("matmul_broadcast_batch", lambda m, x, y: m.matmul(x[:, None], y), A, np.stack([N, N])),
    R("dot_2d", lambda m, x, y: m.dot(x, y), M, N), R("dot_nd", lambda m, x, y: m.dot(x, y), A, N),
    R("dot_scalar", lambda m, x: m.dot(x, 2.0), M), R("vdot", lambda m, x: m.vdot(x, x), M),
    R("inner", lambda m, x, v: m.inner(x, v), M, V), R("outer", lambda m, v, s: m.outer(v, s), V, S),
    R("tensordot_int", lambda m, x, y: m.tensordot(x, y, 1), A, N),
    R("tensordot_pairs", lambda m, x, y: m.tensordot(x, y, axes=([1, 2], [0, 1])), A, M),
    R("einsum_matmul", lambda m, x, y: m.einsum("ij,jk->ik", x, y), M, N),
    R("einsum_batch", lambda m, x, y: m.einsum("bij,jk->bki", x, y), A, N),
    R("einsum_trace", lambda m, x: m.einsum("ii->", x), SQ), R("einsum_diag", lambda m, x: m.einsum("ii->i", x), SQ),
    R("einsum_sum", lambda m, x: m.einsum("ijk->j", x), A),
    R("einsum_transpose", lambda m, x: m.einsum("ijk->kij", x), A),
    R("einsum_three", lambda m, x, y, z: m.einsum("ij,jk,k->i", x, y, z), M, N, S[:3]),
    R("einsum_ellipsis", lambda m, x, y: m.einsum("...j,jk->...k", x, y), A, N),
    R("einsum_outer", lambda m, v, s: m.einsum("i,j->ij", v, s), V, S),
    R("norm_default", lambda m, x: m.linalg.norm(x), M), R("norm_axis", lambda m, x: m.linalg.norm(x, axis=1), M),
    R("norm_ord1", lambda m, v: m.linalg.norm(v, 1), V), R("norm_inf", lambda m, v: m.linalg.norm(v, np.inf), V),
    R("norm_fro_keepdims", lambda m, x: m.linalg.norm(x, "fro", axis=(0, 1), keepdims=True), A),
    R("norm_int_input", lambda m, x: m.linalg.norm(x), I),
]

SHAPES = [
    R("reshape_minus1", lambda m, x: m.reshape(x, (-1, 5)), A), R("ravel", lambda m, x: m.ravel(x), A),
    R("transpose_default", lambda m, x: m.transpose(x), A),
    R("transpose_axes", lambda m, x: m.transpose(x, (1, 0, 2)), A),
    R("swapaxes", lambda m, x: m.swapaxes(x, 0, 2), A), R("moveaxis", lambda m, x: m.moveaxis(x, 0, -1), A),
    R("moveaxis_multi", lambda m, x: m.moveaxis(x, (0, 1), (2, 0)), A),
    R("squeeze", lambda m, x: m.squeeze(x[:, :1, None]), A), R("squeeze_axis", lambda m, x: m.squeeze(x[:1], 0), A),
    R("expand_dims", lambda m, x: m.expand_dims(x, (0, 3)), M),
    R("broadcast_to", lambda m, v: m.broadcast_to(v, (3, 5)), V),
    R("broadcast_arrays", lambda m, x, v: m.broadcast_arrays(x, v), M, V),
    R("atleast", lambda m, v: (m.atleast_1d(v[0]), m.atleast_2d(v)), V),
    R("concatenate", lambda m, x, y: m.concatenate([x, y, x], axis=1), M, P),
    R("concatenate_none", lambda m, x, y: m.concatenate([x, y], axis=None), M, A),
    R("concatenate_promotes", lambda m, x, y: m.concatenate([x, y]), M, I),
    R("stack", lambda m, x, y: m.stack([x, y], axis=1), M, P),
    R("stack_neg", lambda m, x, y: m.stack([x, y], axis=-1), M, P),
    R("hstack", lambda m, x, y: m.hstack([x, y]), M, P),
    R("vstack", lambda m, v, s: m.vstack([v, v]), V, S),
    R("split_sections", lambda m, x: m.split(x, 2, axis=0), M),
    R("split_indices", lambda m, x: m.split(x, [1, 3], axis=1), M),
    R("array_split", lambda m, x: m.array_split(x, 3, axis=1), M), R("flip", lambda m, x: m.flip(x, 1), A),
    R("flip_none", lambda m, x: m.flip(x), A), R("roll", lambda m, x: m.roll(x, 2, axis=1), M),
    R("roll_none", lambda m, x: m.roll(x, -3), M), R("roll_multi", lambda m, x: m.roll(x, (1, -2), axis=(0, 1)), M),
    R("tile", lambda m, x: m.tile(x, (2, 1, 2)), M), R("repeat", lambda m, x: m.repeat(x, 2, axis=0), M),
    R("repeat_none", lambda m, v: m.repeat(v, 3), V),
    R("pad_constant", lambda m, x: m.pad(x, ((1, 2), (0, 1)), constant_values=3.0), M),
    R("pad_int_width", lambda m, x: m.pad(x, 1), I),
    *[R(f"pad_{mode}", lambda m, x, mode=mode: m.pad(x, ((2, 7), (0, 3)), mode=mode), M)
      for mode in ("edge", "wrap", "reflect", "symmetric")],
]

INDEXING = [
    R("take_none", lambda m, x: m.take(x, np.array([0, 7, -1])), M),
    R("take_axis", lambda m, x: m.take(x, np.array([[2, 0], [-1, 1]]), axis=1), A),
    R("take_along_axis", lambda m, x: m.take_along_axis(x, np.argsort(np.asarray(x), axis=1), axis=1), M),
    R("take_along_axis_broadcast", lambda m, x: m.take_along_axis(x, np.array([[0], [2], [1], [-1]]), axis=1), M),
    R("sort_axis", lambda m, x: m.sort(x, axis=0), M), R("sort_none", lambda m, x: m.sort(x, axis=None), A),
    R("argsort", lambda m, x: m.argsort(x, axis=1), I.astype(np.float32) + 0.0),
    R("argsort_int_stable", lambda m, x: m.argsort(x % 3, axis=-1, stable=True), I),
    R("searchsorted", lambda m, s, v: m.searchsorted(s, v), S, V),
    R("searchsorted_right", lambda m, s: m.searchsorted(s, s, side="right"), S),
    R("unique", lambda m, x: m.unique(x % 5), I), R("nonzero", lambda m, x: m.nonzero(x > 5), I),
    R("argwhere", lambda m, x: m.argwhere(x > 5), I), R("diagonal", lambda m, x: m.diagonal(x, 1), M),
    R("trace", lambda m, x: m.trace(x), SQ),
]

ROWS = CREATION + MATH + REDUCTIONS + LINALG + SHAPES + INDEXING


def _narrow(dt):
    return {np.dtype(np.float64): np.dtype(np.float32), np.dtype(np.int64): np.dtype(np.int32),
            np.dtype(np.uint64): np.dtype(np.uint32)}.get(np.dtype(dt), np.dtype(dt))


@pytest.mark.parametrize("f,args,rtol,atol", ROWS)
def test_matches_numpy(f, args, rtol, atol):
    want = f(np, *args)
    got = f(gnp, *[gnp.asarray(a) for a in args])
    want_l = list(want) if isinstance(want, tuple | list) else [want]
    got_l = list(got) if isinstance(got, tuple | list) else [got]
    assert len(got_l) == len(want_l)
    for g, w in zip(got_l, want_l):
        w = np.asarray(w)
        assert isinstance(g, grilly.Array), type(g)
        assert g.dtype == _narrow(w.dtype), f"dtype {g.dtype}, NumPy gives {w.dtype}"
        assert g.shape == w.shape
        np.testing.assert_allclose(np.asarray(g).astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol,
                                   equal_nan=True)


def test_constants_and_helpers():
    assert gnp.pi == np.pi and gnp.inf == np.inf and gnp.newaxis is None
    assert gnp.shape(M) == (4, 5) and gnp.ndim(A) == 3 and gnp.size(V) == 5
    assert gnp.result_type(gnp.ones(2, np.int8), 1.0) == np.float32
    assert gnp.allclose(gnp.asarray(M), M) and gnp.array_equal(gnp.asarray(I), I)
    assert np.asarray(gnp.isclose(gnp.asarray(M), M + 1e-9)).all()
    assert isinstance(gnp.asarray(M), gnp.ndarray)
    assert gnp.finfo(gnp.bfloat16).bits == 16 and gnp.iinfo(np.int8).max == 127


def test_asarray_of_lists_with_arrays_and_dtype():
    x = gnp.asarray([gnp.ones(2), gnp.zeros(2)])
    assert x.shape == (2, 2) and x.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert gnp.asarray([1, 2], dtype=np.float32).dtype == np.float32
    assert gnp.asarray(gnp.ones(2), dtype=np.int32).dtype == np.int32


GRAD_ROWS = [
    ("var_std", lambda x: gnp.var(x, axis=1) + gnp.std(x, axis=0, ddof=1).sum()),
    ("norms", lambda x: gnp.linalg.norm(x) + gnp.linalg.norm(x, axis=1).sum() + gnp.linalg.norm(x[0], 1)),
    ("logsumexp", lambda x: gnp.logsumexp(x, axis=1)), ("mean_keepdims", lambda x: x / gnp.mean(x, 1, keepdims=True)),
    ("einsum", lambda x: gnp.einsum("ij,kj->ik", x, x * x)), ("tensordot", lambda x: gnp.tensordot(x, x, ([0], [0]))),
    ("matmul_batch", lambda x: gnp.matmul(x[None] * 2, x.T)),
    ("where_clip", lambda x: gnp.where(x > 0, gnp.clip(x, -1, 0.5), x ** 2)),
    ("take_sort", lambda x: gnp.take(gnp.sort(x, axis=1), np.array([0, 2]), axis=1)),
    ("take_along_axis", lambda x: gnp.take_along_axis(x, np.array([[1], [0], [2], [1]]), axis=1)),
    ("shape_ops", lambda x: gnp.concatenate([gnp.roll(x, 1, 0), gnp.tile(x, (1, 2)), gnp.repeat(x, 2, 1)], 1)),
    ("split_stack", lambda x: gnp.stack(gnp.split(x, 5, axis=1), 0) * gnp.flip(x, 0)[None]),
    ("pad_cumsum", lambda x: gnp.cumsum(gnp.pad(x, 1), axis=0)),
    ("pad_modes", lambda x: gnp.pad(x, (1, 6), mode="reflect") * gnp.pad(x, (2, 5), mode="symmetric")
     + gnp.pad(x, (0, 7), mode="wrap") - gnp.pad(x, (3, 4), mode="edge")),
    ("max_min", lambda x: gnp.max(x, 1) - gnp.min(x, 0).sum()),
    ("indexing", lambda x: x[::-1, 1:4:2] * x[np.array([0, 3, 1, 2]), None, 2]),
    ("at_set", lambda x: x.at[1, ::2].set(x[0, :3] ** 2)),
    ("power_abs", lambda x: gnp.abs(x) ** 1.5 + gnp.hypot(x, 1.0) + gnp.logaddexp(x, -x)),
]


@pytest.mark.parametrize("name,f", GRAD_ROWS, ids=[r[0] for r in GRAD_ROWS])
def test_numpy_functions_differentiate(name, f, x64):
    from grilly.test_util import check_grads

    x = np.random.default_rng(5).permutation(20).reshape(4, 5) * 0.2 - 1.93  # distinct, off kinks
    check_grads(lambda v: f(gnp.asarray(v)), (x,), order=1)


def test_pad_errors():
    with pytest.raises(ValueError, match="mode 'median'"):
        gnp.pad(gnp.ones(3), 1, mode="median")
    with pytest.raises(ValueError, match="empty axis"):
        gnp.pad(gnp.ones((0, 2)), 1, mode="edge")
    with pytest.raises(ValueError, match="non-negative"):
        gnp.pad(gnp.ones(3), (-1, 2))
