"""Episodic memory: encode experiences as unit-norm keys, store them with a capacity and an eviction policy, and
retrieve the best matches by cosine similarity.

Encoding of content ``x`` with optional context codes ``c_1 .. c_m`` (e.g. place and time cells):

    key = normalize([ normalize(x) ; w_1 normalize(c_1) ; ... ])

Storing into a full memory evicts one slot chosen by the policy:

- ``"fifo"``: the entry written longest ago;
- ``"lru"``: the entry read (or written) longest ago;
- ``"lfu"``: the entry read least often (oldest write among equals).

Retrieval scores valid slots by ``s_i = <q, k_i>`` (both unit norm, so cosine), returns the top-k values, scores and
slots, and updates the access statistics used by "lru"/"lfu". All state is held in arrays, so the memory is a pytree
and works under ``grilly.jit``.
"""

from __future__ import annotations

import dataclasses

import grilly.lax as lax
import grilly.numpy as gnp
from grilly import tree
from grilly.core.array import Array
from grilly.memory.distances import l2_normalize

POLICIES = ("fifo", "lru", "lfu")


def encode_episode(content, *contexts, context_weights=None) -> Array:
    """A unit-norm key from ``content`` (..., d) and context codes (..., d_i), each normalized, then weighted.

    >>> import grilly.numpy as gnp
    >>> encode_episode(gnp.asarray([3.0, 4.0])).tolist()
    [0.6000000238418579, 0.800000011920929]
    >>> encode_episode(gnp.asarray([1.0, 0.0]), gnp.asarray([0.0, 2.0])).shape
    (4,)
    """
    parts = [l2_normalize(content)]
    weights = context_weights or [1.0] * len(contexts)
    parts += [w * l2_normalize(c) for w, c in zip(weights, contexts)]
    return l2_normalize(gnp.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0])


@dataclasses.dataclass(frozen=True)
class EpisodicMemory:
    """A fixed-capacity store of (key, value) episodes with "fifo", "lru" or "lfu" eviction.

    >>> import grilly.numpy as gnp
    >>> mem = EpisodicMemory.create(capacity=2, key_dim=2, value_dim=1, policy="fifo")
    >>> for k, v in [([1.0, 0.0], [1.0]), ([0.0, 1.0], [2.0]), ([0.6, 0.8], [3.0])]:
    ...     mem = mem.store(gnp.asarray(k), gnp.asarray(v))
    >>> values, scores, slots, mem = mem.retrieve(gnp.asarray([0.0, 1.0]), k=1)
    >>> values.tolist(), int(mem.size)
    ([[[2.0]]], 2)
    """

    keys: Array
    values: Array
    valid: Array        # 1.0 where a slot holds an episode
    written_at: Array   # clock value of the last write per slot
    accessed_at: Array  # clock value of the last read or write per slot
    uses: Array         # number of reads per slot since its last write
    clock: Array        # scalar, incremented by every store and retrieve
    policy: str = "fifo"

    @classmethod
    def create(cls, capacity: int, key_dim: int, value_dim: int, policy: str = "fifo") -> EpisodicMemory:
        if policy not in POLICIES:
            raise ValueError(f"EpisodicMemory: policy must be one of {POLICIES}, got {policy!r}")
        z = gnp.zeros((capacity,), gnp.float32)
        return cls(gnp.zeros((capacity, key_dim), gnp.float32), gnp.zeros((capacity, value_dim), gnp.float32),
                   z, z, z, z, gnp.zeros((), gnp.float32), policy)

    @property
    def capacity(self) -> int:
        return self.keys.shape[0]

    @property
    def size(self) -> Array:
        """The number of stored episodes."""
        return gnp.sum(self.valid)

    def _replace(self, **kw) -> EpisodicMemory:
        return dataclasses.replace(self, **kw)

    def eviction_slot(self) -> Array:
        """The slot the next store writes: the first empty one, else the policy's victim."""
        if self.policy == "fifo":
            age_key = self.written_at
        elif self.policy == "lru":
            age_key = self.accessed_at
        else:  # lfu: fewest uses, then oldest write; uses are integers, so the write time breaks ties only
            age_key = self.uses * (self.clock + 1.0) + self.written_at
        # Empty slots first (their key is below any clock value), lower slot on ties (argmin keeps the first).
        return gnp.argmin(gnp.where(self.valid > 0, age_key, -1.0))

    def store(self, key, value) -> EpisodicMemory:
        """Write one episode (key (d_k,), value (d_v,)), evicting by the policy when full."""
        slot = self.eviction_slot()
        now = self.clock + 1.0
        return self._replace(
            keys=self.keys.at[slot].set(gnp.asarray(key, self.keys.dtype)),
            values=self.values.at[slot].set(gnp.asarray(value, self.values.dtype)),
            valid=self.valid.at[slot].set(1.0), written_at=self.written_at.at[slot].set(now),
            accessed_at=self.accessed_at.at[slot].set(now), uses=self.uses.at[slot].set(0.0), clock=now)

    def store_many(self, keys, values) -> EpisodicMemory:
        """Store the rows of ``keys`` and ``values`` one after another."""
        mem = self
        for i in range(gnp.asarray(keys).shape[0]):
            mem = mem.store(keys[i], values[i])
        return mem

    def scores(self, query) -> Array:
        """Similarity ``<q, k_i>`` per slot (..., capacity); empty slots score -inf."""
        s = gnp.matmul(gnp.asarray(query), self.keys.T)
        return gnp.where(self.valid > 0, s, -gnp.inf)

    def retrieve(self, query, k: int = 1) -> tuple[Array, Array, Array, EpisodicMemory]:
        """Top-``k`` episodes for each query (nq, d_k) or (d_k,): ``(values, scores, slots, updated memory)``.

        ``values`` is (nq, k, d_v). Slots that were read get their access time and use count updated.
        """
        q = gnp.asarray(query)
        q = q[None] if q.ndim == 1 else q
        best, slots = lax.top_k(self.scores(q), int(k))
        values = gnp.take(self.values, slots, axis=0)
        now = self.clock + 1.0
        hit = gnp.sum(gnp.where(slots[..., None] == gnp.arange(self.capacity), 1.0, 0.0), axis=(0, 1))
        hit = hit * self.valid  # reading an empty slot (k > size) does not count
        mem = self._replace(accessed_at=gnp.where(hit > 0, now, self.accessed_at), uses=self.uses + hit, clock=now)
        return values, best, slots, mem


_FIELDS = ("keys", "values", "valid", "written_at", "accessed_at", "uses", "clock")
tree.register_dataclass(EpisodicMemory, _FIELDS, ("policy",))
