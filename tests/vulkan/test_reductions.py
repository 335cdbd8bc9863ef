"""Reductions over any axes, argmax/argmin and cumulative ops against the NumPy reference."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import grilly.lax.reductions as R


def _close(res, tol=1e-5):
    for g, w in zip(*res, strict=True):
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=tol, atol=tol, equal_nan=True)
        else:
            np.testing.assert_array_equal(g, w)


AXES = [(2,), (0,), (1,), (0, 2), (0, 1, 2), (), (1, 2)]


@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
def test_float(run, rng, op, axes):
    x = rng.uniform(0.5, 1.5, (3, 5, 7)).astype(np.float32)
    _close(run(getattr(R, f"reduce_{op}_p"), x, axes=axes))


@pytest.mark.parametrize("shape,axes", [((70_001,), (0,)), ((5, 70_001), (1,)), ((70_001, 3), (0,)),
                                        ((2, 300_000), (1,)), ((40_000, 2), (0,))])
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_large(run, rng, op, shape, axes):
    x = rng.standard_normal(shape).astype(np.float32)
    _close(run(getattr(R, f"reduce_{op}_p"), x, axes=axes), 1e-4)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.uint32, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
def test_dtypes(run, rng, op, dtype):
    x = rng.integers(-100, 100, (5, 3001)).astype(dtype)
    if op == "prod":  # keep products finite: reduction order differs from NumPy's
        x = rng.integers(-2, 3, (5, 31)).astype(dtype)
    _close(run(getattr(R, f"reduce_{op}_p"), x, axes=(1,)), 1e-2)
    _close(run(getattr(R, f"reduce_{op}_p"), x, axes=(0,)), 1e-2)


def test_bool(run, rng):
    b = rng.integers(0, 100, (5, 70_001)) > 1
    for op in ("and", "or", "max", "min"):
        _close(run(getattr(R, f"reduce_{op}_p"), b, axes=(1,)))
        _close(run(getattr(R, f"reduce_{op}_p"), b, axes=(0, 1)))


def test_nan_and_empty(run, rng):
    x = rng.standard_normal((3, 5, 7)).astype(np.float32)
    x[1, 2, 3] = np.nan
    _close(run(R.reduce_max_p, x, axes=(2,)))
    _close(run(R.reduce_min_p, x, axes=(0,)))
    _close(run(R.reduce_prod_p, np.zeros((4, 0), np.float32), axes=(1,)))
    _close(run(R.reduce_sum_p, np.zeros((0, 4), np.float32), axes=(1,)))
    _close(run(R.reduce_max_p, np.zeros((4, 0), np.int16), axes=(1,)))


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.float16, np.uint32, ml_dtypes.bfloat16])
def test_arg(run, rng, dtype):
    x = rng.integers(-5, 5, (6, 7, 301)).astype(dtype)
    for p in (R.argmax_p, R.argmin_p):
        for axis in (0, 1, 2):
            _close(run(p, x, axis=axis, index_dtype=np.dtype(np.int32)))
    y = rng.standard_normal((4, 9)).astype(np.float32)
    y[1, 3] = y[1, 6] = np.nan
    _close(run(R.argmax_p, y, axis=1, index_dtype=np.dtype(np.int32)))


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.int32, np.float16])
@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
def test_cumulative(run, rng, op, dtype):
    x = (rng.uniform(0.5, 1.5, (4, 9, 5)) * (3 if dtype != np.float32 else 1)).astype(dtype)
    p = getattr(R, f"cum{op}_p")
    for axis in (0, 1, 2):
        for rev in (False, True):
            _close(run(p, x, axis=axis, reverse=rev), 1e-3)


def test_cumsum_long(run, rng):
    x = rng.integers(-100, 100, (3, 70_001)).astype(np.int32)
    _close(run(R.cumsum_p, x, axis=1, reverse=False))
    _close(run(R.cumsum_p, x, axis=1, reverse=True))


@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("shape,axis", [((2, 5000, 3), 1), ((70_001,), 0), ((9000, 2), 0)])
def test_cumulative_segmented(run, rng, op, shape, axis):
    x = rng.uniform(0.999, 1.001, shape).astype(np.float32) if op == "prod" else rng.standard_normal(shape).astype(
        np.float32)
    if op in ("max", "min"):
        x.flat[4321] = np.nan
    p = getattr(R, f"cum{op}_p")
    for rev in (False, True):
        got, want = run(p, x, axis=axis, reverse=rev)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=2e-3, equal_nan=True)
    xi = rng.integers(-3, 4, shape).astype(np.int8)
    _close(run(p, xi, axis=axis, reverse=True))


@pytest.mark.parametrize("shape", [(8000, 37), (33, 5), (1001, 1), (32768, 3), (3, 97, 11)])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint32])
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_columns_split_into_chunks(run, rng, monkeypatch, op, dtype, shape):
    """Few long columns: the rows are reduced in chunks, then the chunks' partial results (at any size here)."""
    import grilly.core.backend.vulkan.kernels.reductions as VR

    monkeypatch.setattr(VR, "COL_SPLIT_MIN", 0)
    x = rng.integers(-1000, 1000, shape).astype(dtype) if dtype != np.float32 else \
        rng.standard_normal(shape).astype(dtype)
    axes = (0,) if len(shape) == 2 else (0, 1)
    _close(run(getattr(R, f"reduce_{op}_p"), x, axes=axes), 1e-4)
    if dtype == np.float32:
        x[shape[0] // 2, 0] = np.nan  # a NaN in one chunk of one column
        _close(run(getattr(R, f"reduce_{op}_p"), x, axes=axes), 1e-4)
