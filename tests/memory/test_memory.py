"""Key-value memory, context aggregation, Hopfield recall and episodic memory against their formulas."""

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly.memory import (
    EpisodicMemory,
    KeyValueMemory,
    aggregate_context,
    associative_recall,
    encode_episode,
    hopfield_energy,
    hopfield_update,
    kv_read,
    kv_write,
)
from grilly.test_util import check_grads


def np_softmax(s):
    z = np.exp(s - s.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def test_kv_read_softmax_formula(rng):
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    q, k, v = (a.astype(np.float32) for a in (q, k, v))
    want = np_softmax(q @ k.T / 2.0) @ v  # default beta = 1 / sqrt(d_k) = 1/2
    np.testing.assert_allclose(kv_read(q, k, v), want, rtol=1e-5, atol=1e-6)
    mask = np.array([1, 0, 1, 1, 0, 1], np.float32)
    s = q @ k.T * 0.7
    s[:, mask == 0] = -np.inf
    np.testing.assert_allclose(kv_read(q, k, v, beta=0.7, mask=mask), np_softmax(s) @ v, rtol=1e-5, atol=1e-6)


def test_kv_read_top_k_formula(rng):
    q, k, v = (rng.normal(size=s).astype(np.float32) for s in ((2, 4), (8, 4), (8, 3)))
    s = q @ k.T
    want = np.zeros((2, 3), np.float32)
    for r in range(2):
        top = np.argsort(-s[r], kind="stable")[:3]
        want[r] = np_softmax(s[r, top]) @ v[top]
    np.testing.assert_allclose(kv_read(q, k, v, beta=1.0, top_k=3), want, rtol=1e-5, atol=1e-6)


def test_kv_read_gradients(x64, rng):
    q, k, v = rng.normal(size=(2, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    check_grads(lambda a, b, c: kv_read(a, b, c), (q, k, v), order=2, modes=("rev",))
    check_grads(lambda a, b, c: kv_read(a, b, c, top_k=2), (q, k, v), order=1, modes=("rev",))


def test_kv_write_and_ring_memory():
    keys, values = kv_write(gnp.zeros((3, 2)), gnp.zeros((3, 1)), 2, gnp.asarray([1.0, 1.0]), gnp.asarray([4.0]))
    assert keys.tolist()[2] == [1.0, 1.0] and values.tolist() == [[0.0], [0.0], [4.0]]
    mem = KeyValueMemory.create(capacity=2, key_dim=2, value_dim=1)
    for i, key in enumerate(([1.0, 0.0], [0.0, 1.0], [-1.0, 0.0])):  # the third write evicts the first
        mem = mem.write(gnp.asarray(key), gnp.asarray([float(i)]))
    assert mem.values.tolist() == [[2.0], [1.0]] and mem.pointer == 1
    assert abs(float(mem.read(gnp.asarray([-30.0, 0.0]), beta=1.0)[0]) - 2.0) < 1e-5
    leaves = grilly.tree.leaves(mem)
    assert len(leaves) == 3  # a pytree: arrays are leaves, the pointer is static


def test_aggregate_context(rng):
    c = rng.normal(size=(4, 3)).astype(np.float32)
    q = rng.normal(size=3).astype(np.float32)
    w = np.array([1.0, 2.0, 0.0, 1.0], np.float32)
    np.testing.assert_allclose(aggregate_context(c), c.mean(0), rtol=1e-6)
    np.testing.assert_allclose(aggregate_context(c, weights=w), (w[:, None] * c).sum(0) / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(aggregate_context(c, query=q, beta=1.0), np_softmax(c @ q) @ c, rtol=1e-5)


def test_hopfield_update_formula_and_energy_descent(rng):
    X = rng.normal(size=(6, 8)).astype(np.float32)
    xi = rng.normal(size=8).astype(np.float32)
    beta = 0.5
    np.testing.assert_allclose(hopfield_update(xi, X, beta), X.T @ np_softmax(beta * X @ xi), rtol=1e-5, atol=1e-6)
    energies = [float(hopfield_energy(xi, X, beta))]
    state = gnp.asarray(xi)
    for _ in range(4):
        state = hopfield_update(state, X, beta)
        energies.append(float(hopfield_energy(state, X, beta)))
    assert all(b <= a + 1e-5 for a, b in zip(energies, energies[1:]))
    lse = np.log(np.exp(beta * X @ xi).sum()) / beta
    want = -lse + 0.5 * xi @ xi + np.log(6) / beta + 0.5 * (X * X).sum(1).max()
    np.testing.assert_allclose(energies[0], want, rtol=1e-5)


def test_associative_recall_retrieves_patterns_from_noisy_cues(rng):
    X = np.sign(rng.normal(size=(10, 64))).astype(np.float32)
    cues = X * np.where(rng.uniform(size=X.shape) < 0.2, -1.0, 1.0)  # 20% of the bits flipped
    state, idx = associative_recall(cues, X, beta=0.5)
    assert np.asarray(idx).tolist() == list(range(10))
    np.testing.assert_allclose(state, X, atol=1e-2)


def test_encode_episode_is_unit_norm(rng):
    x, place, time = rng.normal(size=(3, 5)), rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    key = np.asarray(encode_episode(x, place, time, context_weights=[0.5, 2.0]))
    np.testing.assert_allclose(np.linalg.norm(key, axis=1), 1.0, rtol=1e-5)
    parts = [x / np.linalg.norm(x, axis=1, keepdims=True), 0.5 * place / np.linalg.norm(place, axis=1, keepdims=True),
             2.0 * time / np.linalg.norm(time, axis=1, keepdims=True)]
    full = np.concatenate(parts, 1)
    np.testing.assert_allclose(key, full / np.linalg.norm(full, axis=1, keepdims=True), rtol=1e-5)


def _store(mem, i):
    return mem.store(gnp.asarray(np.eye(4, dtype=np.float32)[i]), gnp.asarray([float(i)]))


def _retrieve(mem, i):
    values, scores, slots, mem = mem.retrieve(gnp.asarray(np.eye(4, dtype=np.float32)[i]), k=1)
    return mem


@pytest.mark.parametrize("policy, evicted", [("fifo", 0), ("lru", 1), ("lfu", 2)])
def test_episodic_eviction_policies(policy, evicted):
    mem = EpisodicMemory.create(capacity=3, key_dim=4, value_dim=1, policy=policy)
    for i in range(3):
        mem = _store(mem, i)
    # reads: episode 0 twice, episode 2... lru victim = 1 (never read), lfu victim = 2 after reading 0 and 1
    mem = _retrieve(mem, 0)
    mem = _retrieve(mem, 0)
    if policy == "lfu":
        mem = _retrieve(mem, 1)
    else:
        mem = _retrieve(mem, 2)
    mem = _store(mem, 3)
    stored = sorted(int(v) for v in np.asarray(mem.values)[:, 0])
    assert stored == sorted({0, 1, 2, 3} - {evicted})
    assert float(mem.size) == 3


def test_episodic_retrieve_top_k_and_empty_slots():
    mem = EpisodicMemory.create(capacity=4, key_dim=2, value_dim=2)
    mem = mem.store(gnp.asarray([1.0, 0.0]), gnp.asarray([1.0, 1.0]))
    mem = mem.store(gnp.asarray([0.6, 0.8]), gnp.asarray([2.0, 2.0]))
    values, scores, slots, mem = mem.retrieve(gnp.asarray([[0.0, 1.0], [1.0, 0.0]]), k=2)
    assert slots.tolist() == [[1, 0], [0, 1]]
    np.testing.assert_allclose(scores, [[0.8, 0.0], [1.0, 0.6]], atol=1e-6)
    assert values.shape == (2, 2, 2) and values.tolist()[0][0] == [2.0, 2.0]
    np.testing.assert_array_equal(np.asarray(mem.uses), [2.0, 2.0, 0.0, 0.0])


def test_episodic_memory_under_jit():
    mem = EpisodicMemory.create(capacity=2, key_dim=2, value_dim=1, policy="lru")
    store = grilly.jit(lambda m, k, v: m.store(k, v))
    for i in range(3):
        mem = store(mem, gnp.asarray([float(i), 1.0]), gnp.asarray([float(i)]))
    assert sorted(np.asarray(mem.values)[:, 0].tolist()) == [1.0, 2.0]
