"""Pairwise distances and exact k-nearest-neighbour selection.

Two ways to compute squared L2 distances and inner products:

- ``method="direct"`` evaluates ``sum_j (x_ij - y_kj)^2`` (or ``sum_j x_ij y_kj``) elementwise and reduces over the
  feature axis. Every entry is computed by the same sequence of operations whatever its position, so identical
  database rows get bit-identical distances (ties are exact) and results do not depend on how the database is cut
  into chunks. This is the default of the vector indexes.
- ``method="gemm"`` uses the expansion ``||x||^2 + ||y||^2 - 2 x.y`` through one matrix product (what FAISS and
  ``torch.cdist`` do for large batches). It is much faster on a GPU, but the matrix product's summation order may
  depend on an entry's position (BLAS edge kernels), so near-ties can break differently.

All functions are written with grilly ops, so they are differentiable and run on every backend.
"""

from __future__ import annotations

import grilly.lax as lax
import grilly.numpy as gnp
from grilly.core.array import Array

METRICS = ("l2", "ip", "cosine")
# Elements of the (rows, cols, features) temporary of the direct method, per block.
DIRECT_BLOCK_ELEMENTS = 1 << 22


def _rows_per_block(cols: int, features: int) -> int:
    return max(1, DIRECT_BLOCK_ELEMENTS // max(1, cols * features))


def _blocked_rows(fn, x: Array, y: Array) -> Array:
    """Apply ``fn(x_block, y)`` to row blocks of ``x`` and concatenate, so the 3-D temporary stays bounded."""
    n, m, d = x.shape[0], y.shape[0], x.shape[1]
    step = _rows_per_block(m, d)
    if n <= step:
        return fn(x, y)
    return gnp.concatenate([fn(x[i:i + step], y) for i in range(0, n, step)], axis=0)


def _check(x, y, name: str) -> tuple[Array, Array]:
    x, y = gnp.asarray(x), gnp.asarray(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"{name}: expected (n, d) and (m, d) arrays, got {x.shape} and {y.shape}")
    return x, y


def pairwise_sq_l2(x, y, method: str = "direct") -> Array:
    """Squared Euclidean distances ``D[i, k] = sum_j (x[i, j] - y[k, j])^2`` between rows, shape (n, m).

    >>> import grilly.numpy as gnp
    >>> pairwise_sq_l2(gnp.asarray([[0.0, 0.0]]), gnp.asarray([[3.0, 4.0], [1.0, 0.0]])).tolist()
    [[25.0, 1.0]]
    """
    x, y = _check(x, y, "pairwise_sq_l2")
    if method == "direct":
        return _blocked_rows(lambda a, b: gnp.sum(gnp.square(a[:, None, :] - b[None, :, :]), axis=-1), x, y)
    if method == "gemm":
        xx = gnp.sum(x * x, axis=1)[:, None]
        yy = gnp.sum(y * y, axis=1)[None, :]
        # Rounding can make the expansion slightly negative for (near-)identical vectors; distances are >= 0.
        return gnp.maximum(xx + yy - 2.0 * (x @ y.T), 0.0)
    raise ValueError(f"pairwise_sq_l2: method must be 'direct' or 'gemm', got {method!r}")


def pairwise_l2(x, y, method: str = "direct") -> Array:
    """Euclidean distances ``sqrt(D)``, with ``D`` from :func:`pairwise_sq_l2`.

    >>> import grilly.numpy as gnp
    >>> pairwise_l2(gnp.asarray([[0.0, 0.0]]), gnp.asarray([[3.0, 4.0]])).tolist()
    [[5.0]]
    """
    return gnp.sqrt(pairwise_sq_l2(x, y, method))


def pairwise_inner_product(x, y, method: str = "direct") -> Array:
    """Inner products ``S[i, k] = sum_j x[i, j] y[k, j]``, shape (n, m).

    >>> import grilly.numpy as gnp
    >>> pairwise_inner_product(gnp.asarray([[1.0, 2.0]]), gnp.asarray([[3.0, 4.0]])).tolist()
    [[11.0]]
    """
    x, y = _check(x, y, "pairwise_inner_product")
    if method == "direct":
        return _blocked_rows(lambda a, b: gnp.sum(a[:, None, :] * b[None, :, :], axis=-1), x, y)
    if method == "gemm":
        return x @ y.T
    raise ValueError(f"pairwise_inner_product: method must be 'direct' or 'gemm', got {method!r}")


def l2_normalize(x, axis: int = -1, eps: float = 1e-8) -> Array:
    """``x / max(||x||, eps)`` along ``axis``.

    >>> import grilly.numpy as gnp
    >>> l2_normalize(gnp.asarray([3.0, 4.0])).tolist()
    [0.6000000238418579, 0.800000011920929]
    """
    x = gnp.asarray(x)
    return x / gnp.maximum(gnp.sqrt(gnp.sum(x * x, axis=axis, keepdims=True)), eps)


def pairwise_cosine(x, y, method: str = "direct", eps: float = 1e-8) -> Array:
    """Cosine similarities ``x_i.y_k / (max(||x_i||, eps) max(||y_k||, eps))``, shape (n, m).

    >>> import grilly.numpy as gnp
    >>> pairwise_cosine(gnp.asarray([[1.0, 0.0]]), gnp.asarray([[2.0, 0.0], [0.0, 5.0]])).tolist()
    [[1.0, 0.0]]
    """
    return pairwise_inner_product(l2_normalize(x, eps=eps), l2_normalize(y, eps=eps), method)


def pairwise_distances(x, y, metric: str = "l2", method: str = "direct") -> Array:
    """Scores for ``metric``: squared L2 distances ("l2"), inner products ("ip") or cosine similarities ("cosine").

    >>> import grilly.numpy as gnp
    >>> pairwise_distances(gnp.asarray([[1.0, 1.0]]), gnp.asarray([[1.0, 2.0]]), "ip").tolist()
    [[3.0]]
    """
    if metric == "l2":
        return pairwise_sq_l2(x, y, method)
    if metric == "ip":
        return pairwise_inner_product(x, y, method)
    if metric == "cosine":
        return pairwise_cosine(x, y, method)
    raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")


def smallest_k(scores, k: int) -> tuple[Array, Array]:
    """The ``k`` smallest entries of each row, ascending, ties broken by lower index: ``(values, indices)``.

    >>> import grilly.numpy as gnp
    >>> v, i = smallest_k(gnp.asarray([[3.0, 1.0, 1.0, 0.0]]), 3)
    >>> v.tolist(), i.tolist()
    ([[0.0, 1.0, 1.0]], [[3, 1, 2]])
    """
    neg, idx = lax.top_k(-gnp.asarray(scores), k)  # negation is exact, and top_k keeps lower indices first
    return -neg, idx


def grouped_top_k(scores, k: int, group: int = 256) -> tuple[Array, Array]:
    """``lax.top_k`` along the last axis of (rows, n) scores, by rounds of selection over short groups.

    Each round takes the top-k of every run of ``group`` columns and keeps only those candidates (a fraction
    ``k / group`` of the row), until one top-k over the remaining candidates finishes. Short rows sort entirely in
    a GPU workgroup's shared memory, so long rows cost a few cheap passes instead of one long sort. Exact, with the
    same tie order as one top-k: candidates stay laid out group by group, each group's in index order, so equal
    scores still come out lowest index first (the -inf padding of the last group sits after every real column).

    >>> import grilly.numpy as gnp
    >>> v, i = grouped_top_k(gnp.asarray([[1.0, 5.0, 5.0, 0.0, 5.0, 2.0, 7.0, 5.0, 3.0]]), 3, group=4)
    >>> v.tolist(), i.tolist()
    ([[7.0, 5.0, 5.0]], [[6, 1, 2]])
    """
    scores = gnp.asarray(scores)
    rows, n = scores.shape
    if n <= group or 2 * k > group:  # nothing to gain: a round must at least halve the row
        return lax.top_k(scores, k)
    groups = -(-n // group)
    if groups * group != n:
        scores = gnp.pad(scores, ((0, 0), (0, groups * group - n)), constant_values=-gnp.inf)
    vals, idx = lax.top_k(gnp.reshape(scores, (rows, groups, group)), k)
    idx = gnp.reshape(idx + gnp.arange(0, groups * group, group, dtype=idx.dtype)[:, None], (rows, groups * k))
    vals, pos = grouped_top_k(gnp.reshape(vals, (rows, groups * k)), k, group)
    return vals, gnp.take_along_axis(idx, pos, axis=1)


def knn(queries, database, k: int, metric: str = "l2", method: str = "direct") -> tuple[Array, Array]:
    """Exact k nearest neighbours of each query row: ``(scores, indices)``, both (nq, k).

    ``metric="l2"`` returns the k smallest squared distances (ascending); ``"ip"`` and ``"cosine"`` the k largest
    similarities (descending). Ties go to the lower database index. ``k`` must not exceed the database size
    (the indexes in :mod:`grilly.memory.index` pad instead).

    >>> import grilly.numpy as gnp
    >>> d, i = knn(gnp.asarray([[0.0], [10.0]]), gnp.asarray([[1.0], [9.0], [0.0]]), k=2)
    >>> d.tolist(), i.tolist()
    ([[0.0, 1.0], [1.0, 81.0]], [[2, 0], [1, 0]])
    """
    scores = pairwise_distances(queries, database, metric, method)
    if metric == "l2":
        return smallest_k(scores, k)
    return lax.top_k(scores, k)
