"""Key-value memory: attention reads by query-key similarity, slot writes, and context aggregation.

Read (softmax attention over all slots, with an optional validity mask ``m``):

    s_i = beta * <q, k_i>          (beta defaults to 1 / sqrt(d_k))
    w = softmax(s masked to m_i = 1),   r = sum_i w_i v_i

Read (top-k attention): the same softmax restricted to the k largest scores; the other weights are 0.

Write: slot ``j`` gets ``(k, v)`` and becomes valid; ``KeyValueMemory`` writes slots in ring order (the oldest
entry is overwritten first once the memory is full).
"""

from __future__ import annotations

import dataclasses
import math

import grilly.lax as lax
import grilly.numpy as gnp
from grilly import tree
from grilly.core.array import Array

NEG_LARGE = -1e30  # a masked score: exp underflows to 0 without inf - inf = nan in the softmax


def softmax(x, axis: int = -1) -> Array:
    """``exp(x - max x) / sum exp(x - max x)`` along ``axis``.

    >>> import grilly.numpy as gnp
    >>> softmax(gnp.asarray([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    x = gnp.asarray(x)
    z = gnp.exp(x - lax.stop_gradient(gnp.max(x, axis=axis, keepdims=True)))
    return z / gnp.sum(z, axis=axis, keepdims=True)


def attention_scores(query, keys, beta: float | None = None, mask=None) -> Array:
    """Scaled similarities ``beta * query @ keys.T`` (..., n_slots); masked slots get a large negative score.

    >>> import grilly.numpy as gnp
    >>> attention_scores(gnp.asarray([1.0, 0.0]), gnp.asarray([[2.0, 0.0], [0.0, 1.0]]), beta=1.0).tolist()
    [2.0, 0.0]
    """
    query, keys = gnp.asarray(query), gnp.asarray(keys)
    beta = 1.0 / math.sqrt(keys.shape[-1]) if beta is None else beta
    scores = beta * gnp.matmul(query, gnp.swapaxes(keys, -1, -2))
    if mask is not None:
        scores = gnp.where(gnp.asarray(mask) > 0, scores, NEG_LARGE)
    return scores


def kv_read(query, keys, values, beta: float | None = None, top_k: int | None = None, mask=None) -> Array:
    """Read a key-value memory: softmax attention of ``query`` (..., d_k) over ``keys`` (n, d_k) on ``values``.

    With ``top_k`` only the k best-matching slots take part. Differentiable in query, keys and values.

    >>> import grilly.numpy as gnp
    >>> keys = gnp.asarray([[10.0, 0.0], [0.0, 10.0]])
    >>> values = gnp.asarray([[1.0], [2.0]])
    >>> round(float(kv_read(gnp.asarray([1.0, 0.0]), keys, values, beta=1.0)[0]), 4)
    1.0
    """
    scores = attention_scores(query, keys, beta, mask)
    values = gnp.asarray(values)
    if top_k is None:
        return gnp.matmul(softmax(scores), values)
    best, idx = lax.top_k(scores, int(top_k))
    weights = softmax(best)
    picked = gnp.take(values, idx, axis=0)  # (..., k, d_v)
    return gnp.sum(weights[..., None] * picked, axis=-2)


def kv_write(keys, values, slot, key, value) -> tuple[Array, Array]:
    """Put ``key``/``value`` into row ``slot`` of ``keys``/``values`` (a pure update: new arrays come back).

    >>> import grilly.numpy as gnp
    >>> k, v = kv_write(gnp.zeros((2, 2)), gnp.zeros((2, 1)), 1, gnp.asarray([1.0, 2.0]), gnp.asarray([3.0]))
    >>> k.tolist(), v.tolist()
    ([[0.0, 0.0], [1.0, 2.0]], [[0.0], [3.0]])
    """
    return gnp.asarray(keys).at[slot].set(key), gnp.asarray(values).at[slot].set(value)


def aggregate_context(contexts, query=None, weights=None, beta: float | None = None) -> Array:
    """Combine several memory contexts ``c_i`` (n, d) into one vector.

    - ``weights`` given: ``sum_i w_i c_i / sum_i w_i``;
    - ``query`` given: attention, ``sum_i softmax(beta <q, c_i>)_i c_i``;
    - neither: the mean.

    >>> import grilly.numpy as gnp
    >>> aggregate_context(gnp.asarray([[1.0, 0.0], [3.0, 2.0]])).tolist()
    [2.0, 1.0]
    """
    contexts = gnp.asarray(contexts)
    if weights is not None:
        w = gnp.asarray(weights, contexts.dtype)
        return gnp.sum(w[:, None] * contexts, axis=0) / gnp.sum(w)
    if query is not None:
        return gnp.matmul(softmax(attention_scores(query, contexts, beta)), contexts)
    return gnp.mean(contexts, axis=0)


@dataclasses.dataclass(frozen=True)
class KeyValueMemory:
    """A fixed-capacity key-value memory (a pytree: arrays are leaves, the write pointer is static).

    >>> import grilly.numpy as gnp
    >>> mem = KeyValueMemory.create(capacity=4, key_dim=2, value_dim=1)
    >>> mem = mem.write(gnp.asarray([1.0, 0.0]), gnp.asarray([5.0]))
    >>> mem = mem.write(gnp.asarray([0.0, 1.0]), gnp.asarray([7.0]))
    >>> round(float(mem.read(gnp.asarray([0.0, 20.0]), beta=1.0)[0]), 3)
    7.0
    """

    keys: Array
    values: Array
    valid: Array
    pointer: int = 0

    @classmethod
    def create(cls, capacity: int, key_dim: int, value_dim: int, dtype=None) -> KeyValueMemory:
        dtype = dtype or gnp.float32
        return cls(gnp.zeros((capacity, key_dim), dtype), gnp.zeros((capacity, value_dim), dtype),
                   gnp.zeros((capacity,), dtype), 0)

    @property
    def capacity(self) -> int:
        return self.keys.shape[0]

    def write(self, key, value) -> KeyValueMemory:
        """Write one entry into the next slot in ring order (overwrites the oldest when full)."""
        slot = self.pointer % self.capacity
        keys, values = kv_write(self.keys, self.values, slot, key, value)
        valid = self.valid.at[slot].set(1.0)
        return KeyValueMemory(keys, values, valid, (self.pointer + 1) % self.capacity)

    def read(self, query, beta: float | None = None, top_k: int | None = None) -> Array:
        """Attention read over the valid slots (see :func:`kv_read`)."""
        if top_k is not None:
            top_k = min(int(top_k), self.capacity)
        return kv_read(query, self.keys, self.values, beta, top_k, mask=self.valid)


tree.register_node(
    KeyValueMemory,
    lambda m: ((m.keys, m.values, m.valid), m.pointer),
    lambda pointer, leaves: KeyValueMemory(*leaves, pointer),
)

__all__ = ["KeyValueMemory", "aggregate_context", "attention_scores", "kv_read", "kv_write", "softmax"]
