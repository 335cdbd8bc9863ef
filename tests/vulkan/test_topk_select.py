"""top_k by selection (small k over long rows) against the NumPy impl: ties, NaNs, signed zeros, every length."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import grilly.core.backend.vulkan.kernels.sorting as VS
import grilly.lax.sorting as S

DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16, np.int32]


def _rows(rng, shape, dtype, nan_every=0):
    """Small integers (many ties) with a few NaNs, infinities and signed zeros for float dtypes."""
    x = rng.integers(-4, 5, shape).astype(np.float32)
    if np.dtype(dtype).kind == "f" or dtype is ml_dtypes.bfloat16:
        flat = x.reshape(-1)
        if nan_every:
            flat[rng.integers(0, nan_every):: nan_every] = np.nan
        flat[rng.integers(0, flat.size, 3)] = np.inf
        flat[rng.integers(0, flat.size, 3)] = -np.inf
        flat[flat == 0] = np.where(rng.random(int((flat == 0).sum())) < 0.5, -0.0, 0.0)
    return x.astype(dtype)


def _check(run, x, k):
    got, want = run(S.top_k_p, x, k=k)
    np.testing.assert_array_equal(got[1], want[1])  # indices: exact tie order
    np.testing.assert_array_equal(got[0].view(np.uint8), want[0].view(np.uint8))  # values, bit for bit


@pytest.fixture
def select_always(monkeypatch):
    """Route every top_k with k <= SELECT_MAX_K to the selection kernel, short rows included."""
    monkeypatch.setattr(VS, "SELECT_MIN_ROW", 1)


def test_choice_by_k_and_row_length():
    assert VS.use_select(10, 1_000_000) and VS.use_select(VS.SELECT_MAX_K, VS.SELECT_MIN_ROW)
    assert not VS.use_select(VS.SELECT_MAX_K + 1, 1_000_000)  # large k: the sort
    assert not VS.use_select(10, VS.SELECT_MIN_ROW - 1)  # short rows: one shared-memory sort
    assert not VS.use_select(0, 1_000_000)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, k", [(70_001, 10), (300_000, 64), (4097, 1), (20_000, 33)])
def test_long_rows(run, rng, dtype, n, k):
    rows = 3 if n < 100_000 else 1
    _check(run, _rows(rng, (rows, n), dtype, nan_every=97), k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batched_leading_dims(run, rng, dtype):
    _check(run, _rows(rng, (2, 3, 1500), dtype, nan_every=11), 7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, k", [(1, 1), (2, 1), (5, 5), (64, 64), (100, 64), (257, 17), (33, 1)])
def test_short_rows_and_k_equal_row(run, rng, select_always, dtype, n, k):
    _check(run, _rows(rng, (4, n), dtype, nan_every=3), k)


def test_nan_rows_and_signed_zeros(run, select_always):
    x = np.full((3, 40), np.nan, np.float32)
    x[1, ::2] = -0.0
    x[1, 1::2] = 0.0
    x[2, :] = np.float32(np.nan)
    x[2, 30] = -np.inf
    _check(run, x, 20)
    _check(run, x.astype(np.float16), 40)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.bool_])
def test_other_dtypes(run, rng, dtype):
    x = rng.integers(0, 2 if dtype is np.bool_ else 100, (2, 3000)).astype(dtype)
    _check(run, x, 12)


def test_large_k_still_sorts(run, rng):
    _check(run, _rows(rng, (2, 2000), np.float32, nan_every=13), VS.SELECT_MAX_K + 1)


def test_sort_path_signed_zeros_tie(run, rng):
    x = np.where(rng.random((2, 700)) < 0.5, -0.0, 0.0).astype(np.float32)
    _check(run, x, VS.SELECT_MAX_K + 1)
    got, want = run(S.argsort_p, x, dimension=1, descending=False)
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("n, k", [(70_001, 10), (300_000, 64), (5000, 3)])
def test_long_shares_per_invocation(run, rng, monkeypatch, n, k):
    """Few workgroups wanted: every invocation scans up to SELECT_PER_INVOCATION_MAX entries of its row."""
    monkeypatch.setattr(VS, "SELECT_WORKGROUPS", 1)
    _check(run, _rows(rng, (2, n), np.float32, nan_every=89), k)
    monkeypatch.setattr(VS, "SELECT_PER_INVOCATION_MAX", 128)  # a share that is not the whole row
    _check(run, _rows(rng, (3, n), np.float32, nan_every=89), k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, k, sample", [(70_001, 10, 1000), (20_000, 64, 64), (5000, 1, 7), (4097, 33, 2000)])
def test_sampled_bound(run, rng, monkeypatch, dtype, n, k, sample):
    """Long rows select over a strided sample first; its k-th best bounds the full pass (many ties, NaNs)."""
    monkeypatch.setattr(VS, "SELECT_SAMPLE_MIN_ROW", 1)
    monkeypatch.setattr(VS, "SELECT_SAMPLE", sample)
    _check(run, _rows(rng, (3, n), dtype, nan_every=41), k)
    x = np.sort(_rows(rng, (2, n), dtype), axis=1)  # sorted rows: the sample's bound is the loosest possible
    _check(run, x, k)
    _check(run, x[:, ::-1].copy(), k)
