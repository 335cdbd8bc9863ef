"""gather/scatter, sort/argsort/top_k and threefry2x32 against the NumPy reference."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import grilly.lax.gather_scatter as G
import grilly.lax.random_bits as RB
import grilly.lax.sorting as S


def _eq(res, exact=True):
    for g, w in zip(*res, strict=True):
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("idx_dtype", [np.int32, np.uint32, np.int8])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.float16, ml_dtypes.bfloat16])
def test_gather(run, rng, dtype, idx_dtype):
    x = (rng.standard_normal((4, 9, 5)) * 9).astype(dtype)
    idx = rng.integers(-3 if np.dtype(idx_dtype).kind == "i" else 0, 12, (6, 2)).astype(idx_dtype)
    for axis in (0, 1, 2):
        _eq(run(G.gather_p, x, idx, axis=axis))


@pytest.mark.parametrize("mode", ["set", "add", "mul", "min", "max"])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.float16, np.int32, np.uint16])
def test_scatter(run, rng, mode, dtype):
    x = (rng.uniform(-3, 3, (4, 9, 5))).astype(dtype)
    if mode == "set":
        idx = rng.permutation(11)[:6].astype(np.int32) - 1  # unique, some out of range
    else:
        idx = rng.integers(-3, 12, (6,)).astype(np.int32)
    upd = (rng.uniform(-3, 3, (4, 6, 5))).astype(dtype)
    _eq(run(G.scatter_p, x, idx, upd, axis=1, mode=mode), exact=np.dtype(dtype).kind != "f")


def test_threefry(run):
    c1 = np.arange(70_001, dtype=np.uint32)
    _eq(run(RB.threefry2x32_p, np.uint32(123), np.uint32(456), c1, c1[::-1].copy()))
    _eq(run(RB.threefry2x32_p, np.uint32(0), np.uint32(0xFFFFFFFF), np.zeros((0,), np.uint32),
            np.zeros((0,), np.uint32)))


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.uint32, np.float16, np.bool_, np.int32, ml_dtypes.bfloat16])
def test_sort(run, rng, dtype, descending):
    y = rng.integers(-5, 5, (3, 1000)).astype(dtype)
    if np.dtype(dtype).kind == "f":
        y[0, 3] = np.nan
    for p in (S.sort_p, S.argsort_p):
        _eq(run(p, y, dimension=1, descending=descending))
        _eq(run(p, y.T.copy(), dimension=0, descending=descending))


@pytest.mark.parametrize("n", [1, 2, 3, 511, 513, 5000])
def test_sort_sizes(run, rng, n):
    _eq(run(S.sort_p, rng.standard_normal((n,)).astype(np.float32), dimension=0, descending=False))
    _eq(run(S.argsort_p, rng.integers(0, 3, (2, n)).astype(np.int32), dimension=1, descending=True))


def test_top_k(run, rng):
    _eq(run(S.top_k_p, rng.standard_normal((3, 77)).astype(np.float32), k=5))
    _eq(run(S.top_k_p, rng.integers(0, 4, (2, 1025)).astype(np.int32), k=17))
    _eq(run(S.top_k_p, rng.standard_normal((4,)).astype(np.float32), k=0))
