"""Data movement kernels (one strided-copy kernel) and iota against the NumPy reference."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import grilly.lax.elementwise as E
import grilly.lax.structural as S

DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16, np.int8, np.uint32, np.bool_, np.int16]


def _eq(res):
    got, want = res
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.fixture
def x(rng):
    return rng.standard_normal((3, 5, 7)).astype(np.float32)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_transpose(run, x, dtype):
    _eq(run(S.transpose_p, (x * 9).astype(dtype), permutation=(2, 0, 1)))
    _eq(run(S.transpose_p, (x * 9).astype(dtype), permutation=(1, 2, 0)))


def test_transpose_large(run, rng):
    _eq(run(S.transpose_p, rng.standard_normal((301, 233)).astype(np.float32), permutation=(1, 0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int8, np.int64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape,perm", [((65, 33), (1, 0)), ((3, 97, 40), (0, 2, 1)), ((2, 2, 31, 70), (0, 1, 3, 2)),
                                        ((6, 5, 36), (2, 0, 1)), ((1, 40, 3), (0, 2, 1))])
def test_tiled_transpose(run, rng, monkeypatch, dtype, shape, perm):
    """Matrix transposes (batched, merged dims, partial 32 x 32 tiles) take the tiled shared-memory kernel."""
    from grilly.core.backend.vulkan.kernels import structural

    calls = []
    real = structural.transpose_matrices
    monkeypatch.setattr(structural, "transpose_matrices", lambda *a: calls.append(a[3:]) or real(*a))
    _eq(run(S.transpose_p, (rng.standard_normal(shape) * 50).astype(dtype), permutation=perm))
    assert len(calls) == 1


def test_broadcast_in_dim(run, x):
    _eq(run(S.broadcast_in_dim_p, x[:, :1, :], shape=(2, 3, 5, 7), broadcast_dimensions=(1, 2, 3)))
    _eq(run(S.broadcast_in_dim_p, np.float32(3), shape=(4, 3), broadcast_dimensions=()))
    _eq(run(S.broadcast_in_dim_p, np.float32(3), shape=(70_001,), broadcast_dimensions=()))
    _eq(run(S.broadcast_in_dim_p, x, shape=(3, 1, 5, 7), broadcast_dimensions=(0, 2, 3)))


def test_reshape_shares_the_buffer(vk, dev, x):
    a = dev(x)
    b = S.reshape_p.bind(a, new_sizes=(7, 15))
    assert b._buf.addr == a._buf.addr
    np.testing.assert_array_equal(np.asarray(b), x.reshape(7, 15))


@pytest.mark.parametrize("strides", [None, (1, 2, 3), (2, 1, 4)])
def test_slice(run, x, strides):
    _eq(run(S.slice_p, x, start_indices=(1, 0, 2), limit_indices=(3, 5, 7), strides=strides))
    _eq(run(S.slice_p, x, start_indices=(1, 2, 2), limit_indices=(1, 5, 7), strides=strides))


def test_rev(run, x):
    _eq(run(S.rev_p, x, dimensions=(0, 2)))
    _eq(run(S.rev_p, x.astype(np.int8), dimensions=(1,)))


def test_concatenate(run, x):
    _eq(run(S.concatenate_p, x, x[:, :2], x[:, :0], dimension=1))
    _eq(run(S.concatenate_p, x.astype(np.float16), x.astype(np.float16), dimension=0))


@pytest.mark.parametrize("cfg", [((1, 2, 0), (-1, 1, 1), (0, -2, 2)), ((0, 0, 0), (2, 2, 0), (0, 0, 3)),
                                 ((-1, -1, 0), (0, 0, 0), (-3, 1, 1))])
def test_pad(run, x, cfg):
    _eq(run(S.pad_p, x, np.float32(9), padding_config=cfg))


def test_dynamic_slice(run, x):
    _eq(run(S.dynamic_slice_p, x, np.int32(1), np.int32(7), np.int32(-1), slice_sizes=(2, 3, 4)))
    _eq(run(S.dynamic_slice_p, x, np.int32(0), np.int32(2), np.int32(3), slice_sizes=(3, 0, 4)))


def test_dynamic_update_slice(run, x):
    _eq(run(S.dynamic_update_slice_p, x, x[:2, :2, :2] * 0, np.int32(2), np.int32(1), np.int32(9)))
    _eq(run(S.dynamic_update_slice_p, x, x[:3, :5, :7] + 1, np.int32(0), np.int32(0), np.int32(0)))


@pytest.mark.parametrize("dtype", DTYPES + [np.int32, np.uint8], ids=lambda d: np.dtype(d).name)
def test_iota(run, dtype):
    _eq(run(S.iota_p, dtype=np.dtype(dtype), shape=(3, 4, 5), dimension=1))
    _eq(run(S.iota_p, dtype=np.dtype(dtype), shape=(70_001,), dimension=0))


def test_empty(run):
    _eq(run(S.transpose_p, np.zeros((0, 3), np.float32), permutation=(1, 0)))
    _eq(run(S.broadcast_in_dim_p, np.zeros((0,), np.float32), shape=(4, 0), broadcast_dimensions=(1,)))
    _eq(run(E.exp_p, np.zeros((2, 0), np.float32)))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8])
def test_contiguous_slices_are_windows(dev, rng, dtype):
    """A slice that is one contiguous run starting on a 256-byte boundary reads its operand in place."""
    import gc

    import grilly
    from grilly import lax

    row = 256 // np.dtype(dtype).itemsize  # one row per 256 bytes
    a = (rng.standard_normal((6, 2, row)) * 50).astype(dtype)
    x = dev(a)
    cases = [((2, 0, 0), (3, 2, row)), ((1, 0, 0), (4, 2, row)), ((5, 1, 0), (6, 2, row))]
    for start, limit in cases:
        s = S.slice_p.bind(x, start_indices=start, limit_indices=limit, strides=None)
        assert s._buf.base is x._buf  # a window, not a copy
        np.testing.assert_array_equal(np.asarray(s), a[tuple(slice(b, e) for b, e in zip(start, limit))])
    odd = S.slice_p.bind(x, start_indices=(0, 0, 1), limit_indices=(1, 1, row), strides=None)
    assert odd._buf.base is None  # not on a boundary: copied
    np.testing.assert_array_equal(np.asarray(odd), a[:1, :1, 1:])
    second = x[3]
    del x
    gc.collect()
    np.testing.assert_array_equal(np.asarray(second + second), (a[3] + a[3]).astype(dtype))  # outlives its owner
    f = grilly.jit(lambda v, c0: lax.scan(lambda c, r: (c + r, c * r), c0, v)[1])
    v = rng.standard_normal((5, 64)).astype(np.float32)
    want = np.stack([np.cumsum(np.concatenate([np.zeros((1, 64), np.float32), v[:-1]]), 0)[t] * v[t]
                     for t in range(5)])
    np.testing.assert_allclose(np.asarray(f(dev(v), dev(np.zeros(64, np.float32)))), want, rtol=1e-5, atol=1e-5)
