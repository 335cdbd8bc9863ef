"""Pairwise distances, exact top-k and the flat indexes against NumPy brute force (and FAISS where installed)."""

import numpy as np
import pytest

import grilly.lax as lax
import grilly.numpy as gnp
from grilly.memory import (
    IndexFlatIP,
    IndexFlatL2,
    grouped_top_k,
    knn,
    pairwise_cosine,
    pairwise_inner_product,
    pairwise_l2,
    pairwise_sq_l2,
    smallest_k,
)
from grilly.test_util import check_grads


def brute_force(xq, xb, k, metric="l2"):
    """NumPy reference: exact float32 scores, stable order (ties: lower index), FAISS padding."""
    if metric == "l2":
        scores = np.square(xq[:, None, :] - xb[None, :, :]).sum(-1)
        order = np.argsort(scores, axis=1, kind="stable")
    else:
        scores = (xq[:, None, :] * xb[None, :, :]).sum(-1)
        order = np.argsort(-scores, axis=1, kind="stable")
    kk = min(k, xb.shape[0])
    D = np.full((xq.shape[0], k), np.inf if metric == "l2" else -np.inf, np.float32)
    ids = np.full((xq.shape[0], k), -1, np.int64)
    D[:, :kk] = np.take_along_axis(scores, order[:, :kk], 1)
    ids[:, :kk] = order[:, :kk]
    return D, ids


def integer_data(rng, n, d, lo=-3, hi=4):
    """Small integers: every distance is exact in float32, whatever the summation order, and ties abound."""
    return rng.integers(lo, hi, (n, d)).astype(np.float32)


def test_pairwise_formulas(rng):
    x, y = rng.normal(size=(5, 7)).astype(np.float32), rng.normal(size=(9, 7)).astype(np.float32)
    sq = ((x[:, None] - y[None]) ** 2).sum(-1)
    ip = x @ y.T
    cos = ip / np.linalg.norm(x, axis=1)[:, None] / np.linalg.norm(y, axis=1)[None]
    for method in ("direct", "gemm"):
        np.testing.assert_allclose(pairwise_sq_l2(x, y, method), sq, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pairwise_inner_product(x, y, method), ip, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pairwise_cosine(x, y, method), cos, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pairwise_l2(x, y), np.sqrt(sq), rtol=1e-5, atol=1e-5)


def test_direct_distances_are_position_independent(rng):
    """Identical rows get bit-identical distances wherever they sit (what makes ties exact)."""
    v = rng.normal(size=(1, 13)).astype(np.float32)
    xb = np.repeat(v, 37, axis=0)
    xq = rng.normal(size=(3, 13)).astype(np.float32)
    for fn in (pairwise_sq_l2, pairwise_inner_product):
        out = np.asarray(fn(xq, xb))
        assert (out == out[:, :1]).all()


def test_gemm_distances_are_never_negative(rng):
    x = rng.normal(size=(6, 16)).astype(np.float32) * 100
    assert (np.asarray(pairwise_sq_l2(x, x, "gemm")) >= 0).all()


def test_pairwise_gradients(x64, rng):
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    check_grads(lambda a, b: pairwise_sq_l2(a, b), (x, y), order=1, modes=("rev",))
    check_grads(lambda a, b: pairwise_sq_l2(a, b, "gemm"), (x, y), order=1, modes=("rev",))
    check_grads(lambda a, b: pairwise_cosine(a, b), (x, y), order=1, modes=("rev",))


def test_grouped_top_k_equals_one_top_k(rng):
    scores = rng.integers(0, 5, (3, 103)).astype(np.float32)  # many ties, and 103 is no multiple of the group
    want = lax.top_k(gnp.asarray(scores), 9)
    for group in (18, 19, 20, 32, 200):
        got = grouped_top_k(scores, 9, group)
        np.testing.assert_array_equal(np.asarray(got[0]), np.asarray(want[0]))
        np.testing.assert_array_equal(np.asarray(got[1]), np.asarray(want[1]))


def test_smallest_k_and_knn_break_ties_by_lower_index():
    v, i = smallest_k(gnp.asarray([[2.0, 1.0, 2.0, 1.0, 0.0]]), 4)
    assert i.tolist() == [[4, 1, 3, 0]] and v.tolist() == [[0.0, 1.0, 1.0, 2.0]]
    xb = np.array([[1.0], [-1.0], [1.0], [3.0]], np.float32)
    d, i = knn(np.zeros((1, 1), np.float32), xb, 3)
    assert i.tolist() == [[0, 1, 2]] and d.tolist() == [[1.0, 1.0, 1.0]]
    s, i = knn(np.ones((1, 1), np.float32), xb, 2, metric="ip")
    assert i.tolist() == [[3, 0]] and s.tolist() == [[3.0, 1.0]]


@pytest.mark.parametrize("metric", ["l2", "ip"])
@pytest.mark.parametrize("method", ["direct", "gemm"])
def test_index_equals_brute_force_exactly_with_ties(rng, metric, method):
    xb = integer_data(rng, 300, 6)
    xq = np.concatenate([integer_data(rng, 9, 6), xb[[5, 77]]])  # queries that are database rows, too
    index = (IndexFlatL2 if metric == "l2" else IndexFlatIP)(6, method=method)
    index.add(xb)
    for k in (1, 7, 40):
        D, ids = index.search(xq, k)
        D_ref, ids_ref = brute_force(xq, xb, k, metric)
        assert D.dtype == np.float32 and ids.dtype == np.int64 and D.shape == (11, k)
        np.testing.assert_array_equal(ids, ids_ref)
        np.testing.assert_array_equal(D, D_ref)


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_duplicate_float_rows_tie_exactly(rng, metric):
    xb = rng.normal(size=(50, 5)).astype(np.float32)
    xb[[3, 17, 31, 48]] = xb[40]  # the copies straddle chunk boundaries below
    xq = rng.normal(size=(4, 5)).astype(np.float32)
    xq[0] = xb[40] + 0.01
    for chunk in (None, 16):
        index = (IndexFlatL2 if metric == "l2" else IndexFlatIP)(5, chunk_rows=chunk)
        index.add(xb)
        D, ids = index.search(xq, 5)
        assert ids[0].tolist() == [3, 17, 31, 40, 48]
        assert (D[0] == D[0, 0]).all()


@pytest.mark.parametrize("method", ["direct", "gemm"])
def test_float_data_matches_brute_force(rng, method):
    xb, xq = rng.normal(size=(200, 12)).astype(np.float32), rng.normal(size=(6, 12)).astype(np.float32)
    index = IndexFlatL2(12, method=method, chunk_rows=64)
    index.add(xb)
    D, ids = index.search(xq, 8)
    D_ref, ids_ref = brute_force(xq, xb, 8)
    np.testing.assert_allclose(D, D_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ids, ids_ref)  # random data: no near-ties at this size


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_chunked_and_streamed_search_equal_unchunked(rng, metric):
    xb = integer_data(rng, 83, 4, -2, 3)
    xq = integer_data(rng, 7, 4, -2, 3)
    cls = IndexFlatL2 if metric == "l2" else IndexFlatIP
    whole = cls(4, chunk_rows=1000)
    whole.add(xb)
    ref = whole.search(xq, 12)
    for chunk, qblock, budget, group in ((1, None, None, 4), (5, 2, None, 4), (32, 3, 0, 16), (83, 1, 0, 12)):
        index = cls(4, chunk_rows=chunk, query_block=qblock, device_budget_bytes=budget, top_k_group=group)
        for part in np.array_split(xb, 4):  # several adds: cached chunks must be refreshed
            index.add(part)
            index.search(xq[:1], 1)
        for got, want in zip(index.search(xq, 12), ref):
            np.testing.assert_array_equal(got, want)


def test_resident_chunks_are_cached_and_streamed_ones_are_not(rng):
    xb = integer_data(rng, 40, 3)
    resident = IndexFlatL2(3, chunk_rows=16)
    streamed = IndexFlatL2(3, chunk_rows=16, device_budget_bytes=0)
    for index in (resident, streamed):
        index.add(xb)
        index.search(xb[:2], 3)
    assert sorted(resident._device_chunks) == [0, 16, 32] and streamed._device_chunks == {}
    cached = resident._device_chunks[0]
    resident.add(xb[:1])  # only the last, partial chunk is refreshed
    assert resident._device_chunks[0] is cached and 32 not in resident._device_chunks


def test_k_larger_than_ntotal_and_empty_index(rng):
    index = IndexFlatL2(3)
    D, ids = index.search(np.zeros((2, 3), np.float32), 4)
    assert (ids == -1).all() and np.isposinf(D).all()
    index.add(np.eye(3, dtype=np.float32))
    D, ids = index.search(np.zeros((1, 3), np.float32), 5)
    assert ids.tolist() == [[0, 1, 2, -1, -1]] and D.tolist() == [[1.0, 1.0, 1.0, np.inf, np.inf]]
    ip = IndexFlatIP(3)
    ip.add(np.eye(3, dtype=np.float32)[:2])
    D, ids = ip.search(np.ones((1, 3), np.float32), 3)
    assert ids.tolist() == [[0, 1, -1]] and D[0, 2] == -np.inf


def test_remove_ids_reset_and_reconstruct(rng):
    xb = integer_data(rng, 20, 3)
    index = IndexFlatL2(3, chunk_rows=6)
    index.add(xb)
    index.search(xb[:2], 3)  # caches device chunks that remove_ids must drop
    assert index.remove_ids(np.array([0, 5, 5, 19, 99])) == 3
    kept = np.delete(xb, [0, 5, 19], axis=0)
    assert index.ntotal == 17
    np.testing.assert_array_equal(index.reconstruct(4), kept[4])
    for got, want in zip(index.search(xb[:4], 6), brute_force(xb[:4], kept, 6)):
        np.testing.assert_array_equal(got, want)
    index.reset()
    assert index.ntotal == 0 and (index.search(xb[:1], 2)[1] == -1).all()


@pytest.mark.parametrize("method", ["direct", "gemm"])
def test_search_arrays_and_input_checks(rng, method):
    xb = integer_data(rng, 30, 4)
    index = IndexFlatL2(4, method=method)
    index.add(xb)
    D, ids = index.search_arrays(xb[:3] + 0.5, 2)
    D_ref, ids_ref = brute_force(xb[:3] + 0.5, xb, 2)
    np.testing.assert_array_equal(np.asarray(ids), ids_ref)
    np.testing.assert_array_equal(np.asarray(D), D_ref)
    with pytest.raises(ValueError):
        index.add(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError):
        index.search(xb[:1], 0)


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_matches_faiss(rng, metric):
    faiss = pytest.importorskip("faiss")
    xb, xq = rng.normal(size=(500, 16)).astype(np.float32), rng.normal(size=(30, 16)).astype(np.float32)
    ours = (IndexFlatL2 if metric == "l2" else IndexFlatIP)(16, chunk_rows=128)
    theirs = (faiss.IndexFlatL2 if metric == "l2" else faiss.IndexFlatIP)(16)
    ours.add(xb)
    theirs.add(xb)
    D, ids = ours.search(xq, 10)
    D_f, ids_f = theirs.search(xq, 10)
    np.testing.assert_array_equal(ids, ids_f)
    np.testing.assert_allclose(D, D_f, rtol=1e-4, atol=1e-4)
    theirs.remove_ids(np.array([1, 2, 3], dtype=np.int64))
    ours.remove_ids(np.array([1, 2, 3]))
    assert ours.ntotal == theirs.ntotal
    np.testing.assert_array_equal(ours.search(xq, 5)[1], theirs.search(xq, 5)[1])
