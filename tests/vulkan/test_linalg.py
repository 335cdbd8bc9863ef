"""dot_general (tiled matmul with strided operands) and conv_general_dilated against the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

import grilly.lax.linalg as L

MM = (((1,), (0,)), ((), ()))


def _close(res, tol=1e-4):
    for g, w in zip(*res, strict=True):
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=tol, atol=tol)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (67, 45, 130), (128, 64, 256), (3, 300, 5), (200, 1, 70)])
def test_matmul_shapes(run, rng, m, k, n):
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    _close(run(L.dot_general_p, a, b, dimension_numbers=MM))


def test_transposed_and_batched(run, rng):
    a = rng.standard_normal((67, 45)).astype(np.float32)
    c = rng.standard_normal((45, 130)).astype(np.float32)
    _close(run(L.dot_general_p, a, c.T.copy(), dimension_numbers=(((1,), (1,)), ((), ()))))
    _close(run(L.dot_general_p, a.T.copy(), c, dimension_numbers=(((0,), (0,)), ((), ()))))
    x = rng.standard_normal((3, 7, 5, 9)).astype(np.float32)
    y = rng.standard_normal((5, 3, 9, 4)).astype(np.float32)
    _close(run(L.dot_general_p, x, y, dimension_numbers=(((2, 3), (0, 2)), ((0,), (1,)))))
    v = rng.standard_normal((33,)).astype(np.float32)
    _close(run(L.dot_general_p, v, v, dimension_numbers=(((0,), (0,)), ((), ()))))


@pytest.mark.parametrize("dtype,out", [(np.float16, None), (np.int8, np.int32), (np.int32, None),
                                       (np.float16, np.float32)])
def test_dtypes(run, rng, dtype, out):
    a = (rng.standard_normal((40, 33)) * 4).astype(dtype)
    b = (rng.standard_normal((33, 21)) * 4).astype(dtype)
    _close(run(L.dot_general_p, a, b, dimension_numbers=MM,
               preferred_element_type=None if out is None else np.dtype(out)), 5e-2)


def test_empty(run):
    _close(run(L.dot_general_p, np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32), dimension_numbers=MM))
    _close(run(L.dot_general_p, np.zeros((0, 5), np.float32), np.zeros((5, 4), np.float32), dimension_numbers=MM))


CONVS = [((2, 3, 9, 8), (4, 3, 3, 2), 1, (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1)),
         ((2, 4, 10, 7), (6, 2, 3, 3), 2, (2, 1), ((1, 2), (-1, 1)), (1, 2), (2, 1)),
         ((1, 2, 12, 1), (2, 2, 5, 1), 1, (1, 1), ((2, 2), (0, 0)), (1, 1), (1, 1)),
         ((2, 3, 11), (5, 3, 4), 1, (2,), ((1, 1),), (1,), (1,))]


@pytest.mark.parametrize("ls,rs,g,st,pad,ld,rd", CONVS)
def test_conv(run, rng, ls, rs, g, st, pad, ld, rd):
    lhs = rng.standard_normal(ls).astype(np.float32)
    rhs = rng.standard_normal(rs).astype(np.float32)
    _close(run(L.conv_general_dilated_p, lhs, rhs, window_strides=st, padding=pad, lhs_dilation=ld,
               rhs_dilation=rd, feature_group_count=g))
