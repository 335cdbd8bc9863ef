"""Flat (brute-force) vector indexes with FAISS semantics: ``IndexFlatL2`` and ``IndexFlatIP``.

``search(xq, k)`` returns ``(D, I)`` as NumPy arrays of shape (nq, k): squared L2 distances ascending (L2) or
inner products descending (IP), and int64 row ids. Ties go to the lower id. Where fewer than ``k`` vectors exist,
the missing entries are ``+inf`` (L2) or ``-inf`` (IP) with id ``-1``.

The database is kept in host memory (it is the source of truth for ``remove_ids`` and ``reconstruct``) and
searched in chunks of ``chunk_rows`` rows: each chunk gives a (nq, chunk) score block and its own top-k, merged
into the running top-k by one more top-k over ``[running, chunk]``. Running entries always have lower ids than
the chunk's and top-k keeps lower positions first among equal scores, so the merge is stable and the chunked
result equals the unchunked one. When the database fits ``device_budget_bytes`` its chunks are uploaded once and
cached on the device; otherwise every search streams the chunks from host memory, one at a time.
"""

from __future__ import annotations

import numpy as np

import grilly.lax as lax
import grilly.numpy as gnp
from grilly.core.array import Array
from grilly.memory.distances import DIRECT_BLOCK_ELEMENTS, grouped_top_k, pairwise_distances

# Score entries (queries x database rows) per dispatch on the gemm path: 2**26 (256 MiB of float32) off Vulkan,
# up to 2**28 on a device with room for it, so that a 1M-row database is one chunk (no merges between chunks).
GEMM_BLOCK_ELEMENTS = 1 << 26
GEMM_BLOCK_ELEMENTS_MAX = 1 << 28
SELECT_TOP_K_MAX = 64  # top_k up to this k runs as one selection over a whole row on Vulkan: no grouping needed


def _device_heap() -> int | None:
    """Bytes of device memory of the default backend's device; None off Vulkan (or for a runtime without a pool
    description: the callers then stay conservative)."""
    import grilly

    if grilly.default_backend() != "vulkan":
        return None
    try:
        from grilly.core.backend.vulkan import get_runtime

        return int(get_runtime().device_pool.heap_size)
    except (ImportError, AttributeError):
        return None


def default_device_budget() -> int:
    """Bytes of database an index keeps resident: a quarter of the device heap on Vulkan, 1 GiB otherwise."""
    heap = _device_heap()
    return 1 << 30 if heap is None else heap // 4


def gemm_block_elements() -> int:
    """Score entries per gemm block: ``GEMM_BLOCK_ELEMENTS``, or on Vulkan a 1/64 of the device heap (a power of
    two between that and ``GEMM_BLOCK_ELEMENTS_MAX``)."""
    heap = _device_heap()
    room = 0 if heap is None else heap // 64 // 4  # float32 scores
    if room < GEMM_BLOCK_ELEMENTS:
        return GEMM_BLOCK_ELEMENTS
    return min(GEMM_BLOCK_ELEMENTS_MAX, 1 << (room.bit_length() - 1))


def _augmented_width(d: int) -> int:
    return -(-(d + 1) // 4) * 4  # d + 1 columns, padded to a multiple of 4 for aligned loads


class IndexFlat:
    """Exact search over all stored vectors for ``metric`` "l2" (squared distances) or "ip" (inner products).

    Args:
      d: vector dimension.
      metric: "l2" or "ip".
      method: "direct" (exact, tie-exact elementwise distances; the default) or "gemm" (matrix-product
        expansion, fastest on a GPU; see :mod:`grilly.memory.distances`).
      chunk_rows: database rows per dispatch (default: sized so one score block stays bounded).
      query_block: queries per dispatch (default: all, unless the block would be too large).
      device_budget_bytes: databases up to this size stay cached on the device; larger ones are streamed.
      top_k_group: a chunk's top-k runs in rounds over groups of this many columns (see
        :func:`grilly.memory.distances.grouped_top_k`), which keeps each sorted row short. Default: one
        ``lax.top_k`` over the chunk for k up to 64 (a selection, not a sort, on Vulkan), groups of 256 above.

    >>> import numpy as np
    >>> index = IndexFlatL2(2)
    >>> index.add(np.array([[0, 0], [1, 0], [5, 5]], dtype=np.float32))
    >>> D, I = index.search(np.array([[0.9, 0.0]], dtype=np.float32), 2)
    >>> I.tolist(), index.ntotal
    ([[1, 0]], 3)
    """

    def __init__(self, d: int, metric: str = "l2", method: str = "direct", chunk_rows: int | None = None,
                 query_block: int | None = None, device_budget_bytes: int | None = None,
                 top_k_group: int | None = None):
        if metric not in ("l2", "ip"):
            raise ValueError(f"IndexFlat: metric must be 'l2' or 'ip', got {metric!r}")
        if method not in ("direct", "gemm"):
            raise ValueError(f"IndexFlat: method must be 'direct' or 'gemm', got {method!r}")
        self.d, self.metric, self.method = int(d), metric, method
        self.chunk_rows, self.query_block = chunk_rows, query_block
        self.device_budget_bytes = device_budget_bytes
        self.top_k_group = top_k_group
        self.is_trained = True
        self._data = np.zeros((0, self.d), np.float32)
        self._n = 0
        self._device_chunks: dict[int, Array] = {}

    # ---- storage -------------------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        """The number of stored vectors."""
        return self._n

    def _as_rows(self, x, name: str) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1 and x.shape[0] == self.d:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"{name}: expected an (n, {self.d}) array, got shape {x.shape}")
        return x

    def add(self, xb) -> None:
        """Append the rows of ``xb`` (n, d); they get ids ``ntotal .. ntotal + n - 1``."""
        xb = self._as_rows(xb, "add")
        need = self._n + xb.shape[0]
        if need > self._data.shape[0]:  # amortized growth: repeated small adds stay linear
            grown = np.zeros((max(need, 2 * self._data.shape[0]), self.d), np.float32)
            grown[:self._n] = self._data[:self._n]
            self._data = grown
        self._data[self._n:need] = xb
        chunk = self._chunk_rows()
        first_stale = (self._n // chunk) * chunk  # the last, partial chunk changes
        self._device_chunks = {s: c for s, c in self._device_chunks.items() if s < first_stale}
        self._n = need

    def reset(self) -> None:
        """Remove every vector."""
        self._data = np.zeros((0, self.d), np.float32)
        self._n = 0
        self._device_chunks = {}

    def remove_ids(self, ids) -> int:
        """Remove the vectors with the given ids; the rest are renumbered in order (as FAISS's flat index does).

        Returns the number of vectors removed.
        """
        ids = np.asarray(ids, dtype=np.int64).ravel()
        keep = np.ones(self._n, bool)
        keep[ids[(ids >= 0) & (ids < self._n)]] = False
        removed = int(self._n - keep.sum())
        if removed:
            self._data = np.ascontiguousarray(self._data[:self._n][keep])
            self._n = self._data.shape[0]
            self._device_chunks = {}
        return removed

    def reconstruct(self, i: int) -> np.ndarray:
        """The stored vector with id ``i``."""
        if not 0 <= i < self._n:
            raise IndexError(f"reconstruct: id {i} out of range [0, {self._n})")
        return self._data[i].copy()

    def reconstruct_n(self, i0: int, n: int) -> np.ndarray:
        return self._data[i0:i0 + n].copy()

    # ---- search --------------------------------------------------------------------------------------------
    def _block_elements(self) -> int:
        return DIRECT_BLOCK_ELEMENTS // max(1, self.d) if self.method == "direct" else gemm_block_elements()

    def _chunk_rows(self) -> int:
        return int(self.chunk_rows) if self.chunk_rows else max(1024, self._block_elements() // 256)

    def _resident(self) -> bool:
        budget = self.device_budget_bytes if self.device_budget_bytes is not None else default_device_budget()
        return self._n * self.d * 4 <= budget

    def _fused_l2(self) -> bool:
        return self.method == "gemm" and self.metric == "l2"

    def _host_rows(self, start: int, stop: int) -> np.ndarray:
        """Database rows as the kernels consume them. For gemm L2 each row is augmented to ``[x, ||x||^2, 0..]``
        so that one matrix product with ``[2q, -1, 0..]`` gives ``2 q.x - ||x||^2 = ||q||^2 - ||q - x||^2``: the
        ranking score of a chunk with no elementwise pass over the (queries x rows) block."""
        rows = self._data[start:stop]
        if not self._fused_l2():
            return rows
        out = np.zeros((rows.shape[0], _augmented_width(self.d)), np.float32)
        out[:, :self.d] = rows
        out[:, self.d] = np.einsum("ij,ij->i", rows, rows)
        return out

    def _chunk(self, start: int, resident: bool) -> Array:
        stop = min(start + self._chunk_rows(), self._n)
        if not resident:  # streamed: uploaded for this search only, freed when the merge no longer needs it
            return gnp.asarray(self._host_rows(start, stop))
        if start not in self._device_chunks:
            self._device_chunks[start] = gnp.asarray(self._host_rows(start, stop))
        return self._device_chunks[start]

    def _queries(self, xq: np.ndarray) -> Array:
        if not self._fused_l2():
            return gnp.asarray(xq)
        out = np.zeros((xq.shape[0], _augmented_width(self.d)), np.float32)
        out[:, :self.d] = 2.0 * xq
        out[:, self.d] = -1.0
        return gnp.asarray(out)

    def _chunk_scores(self, q: Array, xb: Array) -> Array:
        """Per-chunk ranking scores, larger is better."""
        if self._fused_l2():  # q @ xb.T, contracting xb's rows in place (no transposed copy of the chunk)
            return lax.dot_general(q, xb, (((1,), (1,)), ((), ())))
        scores = pairwise_distances(q, xb, self.metric, self.method)
        return -scores if self.metric == "l2" else scores

    def _distances(self, xq: np.ndarray, scores):
        """Ranking scores of the winners back to FAISS's D (NumPy or grilly arrays)."""
        if self.metric == "ip":
            return scores
        if not self._fused_l2():
            return -scores
        qq = np.einsum("ij,ij->i", xq, xq)[:, None]
        if isinstance(scores, np.ndarray):
            return np.maximum(qq - scores, np.float32(0))
        return gnp.maximum(gnp.asarray(qq) - scores, 0.0)

    def search(self, xq, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored vectors of each query row: ``(D, I)``, float32 and int64 arrays (nq, k)."""
        xq = self._as_rows(xq, "search")
        k = int(k)
        if k <= 0:
            raise ValueError(f"search: k must be positive, got {k}")
        nq = xq.shape[0]
        fill = np.inf if self.metric == "l2" else -np.inf
        D = np.full((nq, k), fill, np.float32)
        ids = np.full((nq, k), -1, np.int64)
        if self._n == 0 or nq == 0:
            return D, ids
        qb = self.query_block or max(1, min(nq, self._block_elements() // self._chunk_rows()))
        resident = self._resident()
        # every query block is queued before any result is read back: the GPU never waits for the host
        blocks = [(q0, self._search_block(self._queries(xq[q0:q0 + qb]), min(k, self._n), resident))
                  for q0 in range(0, nq, qb)]
        for q0, (scores, found) in blocks:
            s = self._distances(xq[q0:q0 + qb], np.asarray(scores))
            D[q0:q0 + qb, :s.shape[1]] = s
            ids[q0:q0 + qb, :s.shape[1]] = np.asarray(found)
        return D, ids

    def search_arrays(self, xq, k: int) -> tuple[Array, Array]:
        """Like :meth:`search` for ``k <= ntotal``, but the results stay grilly arrays (int32 ids)."""
        k = int(k)
        if not 0 < k <= self._n:
            raise ValueError(f"search_arrays: need 0 < k <= ntotal={self._n}, got k={k}")
        xq = self._as_rows(xq, "search_arrays")
        scores, found = self._search_block(self._queries(xq), k, self._resident())
        return self._distances(xq, scores), found

    def _chunk_top_k(self, scores: Array, k: int) -> tuple[Array, Array]:
        if self.top_k_group is None and k <= SELECT_TOP_K_MAX:
            return lax.top_k(scores, k)
        return grouped_top_k(scores, k, self.top_k_group or 256)

    def _search_block(self, q: Array, k: int, resident: bool) -> tuple[Array, Array]:
        """Running top-k of the ranking scores (larger is better) over all chunks."""
        best = best_ids = None
        for start in range(0, self._n, self._chunk_rows()):
            xb = self._chunk(start, resident)
            scores = self._chunk_scores(q, xb)
            s, i = self._chunk_top_k(scores, min(k, xb.shape[0]))
            i = i + start
            if best is not None:  # stable merge: every running id is lower than every id of this chunk
                both = gnp.concatenate([best, s], axis=1)
                s, pos = lax.top_k(both, min(k, both.shape[1]))
                i = gnp.take_along_axis(gnp.concatenate([best_ids, i], axis=1), pos, axis=1)
            best, best_ids = s, i
        return best, best_ids

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d}, ntotal={self._n}, method={self.method!r})"


class IndexFlatL2(IndexFlat):
    """Exact search by squared Euclidean distance (FAISS ``IndexFlatL2``).

    >>> import numpy as np
    >>> index = IndexFlatL2(1)
    >>> index.add(np.array([[0.0], [2.0]], dtype=np.float32))
    >>> D, I = index.search(np.array([[1.5]], dtype=np.float32), 3)
    >>> D.tolist(), I.tolist()
    ([[0.25, 2.25, inf]], [[1, 0, -1]])
    """

    def __init__(self, d: int, **kwargs):
        super().__init__(d, metric="l2", **kwargs)


class IndexFlatIP(IndexFlat):
    """Exact search by inner product, largest first (FAISS ``IndexFlatIP``).

    >>> import numpy as np
    >>> index = IndexFlatIP(2)
    >>> index.add(np.array([[1, 0], [0, 1]], dtype=np.float32))
    >>> D, I = index.search(np.array([[0.2, 0.9]], dtype=np.float32), 2)
    >>> I.tolist()
    [[1, 0]]
    """

    def __init__(self, d: int, **kwargs):
        super().__init__(d, metric="ip", **kwargs)
