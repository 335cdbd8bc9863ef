"""grilly.random: the threefry known answer, determinism, key splitting, and distribution sanity checks."""

from __future__ import annotations

import numpy as np
import pytest
from core_helpers import BF16, on_vulkan, run_on_numpy

import grilly
import grilly.lax as lax
import grilly.numpy as gnp
import grilly.random as gr

N = 20_000  # large enough for 1% statistics, small enough for lavapipe


def test_threefry2x32_known_answer():
    """The Random123 known-answer vector (20 rounds): key (0x13198a2e, 0x03707344), counters
    (0x243f6a88, 0x85a308d3) -> (0xc4923a9c, 0x483df7a0)."""
    u32 = lambda v: gnp.asarray(np.uint32(v))  # noqa: E731
    x0, x1 = lax.threefry2x32(u32(0x13198A2E), u32(0x03707344), gnp.asarray(np.array([0x243F6A88], np.uint32)),
                              gnp.asarray(np.array([0x85A308D3], np.uint32)))
    assert (int(x0[0]), int(x1[0])) == (0xC4923A9C, 0x483DF7A0)
    z0, z1 = lax.threefry2x32(u32(0), u32(0), gnp.zeros(1, np.uint32), gnp.zeros(1, np.uint32))
    assert (int(z0[0]), int(z1[0])) == (0x6B200159, 0x99BA4EFE)  # the all-zero vector of the same suite
    f0, f1 = lax.threefry2x32(u32(0xFFFFFFFF), u32(0xFFFFFFFF), gnp.full((1,), 0xFFFFFFFF, np.uint32),
                              gnp.full((1,), 0xFFFFFFFF, np.uint32))
    assert (int(f0[0]), int(f1[0])) == (0x1CB996FC, 0xBB002BE7)


def test_same_key_same_numbers_and_different_keys_differ():
    k = gr.PRNGKey(0)
    a, b = gr.normal(k, (100,)), gr.normal(k, (100,))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c = gr.normal(gr.PRNGKey(1), (100,))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    assert gr.PRNGKey(0).dtype == np.uint32 and gr.PRNGKey(0).shape == (2,)
    assert np.asarray(gr.PRNGKey(2 ** 32 + 5)).tolist() == [1, 5]


def test_split_and_fold_in():
    k = gr.PRNGKey(42)
    ks = gr.split(k, 4)
    assert ks.shape == (4, 2) and ks.dtype == np.uint32
    rows = {tuple(np.asarray(r).tolist()) for r in ks}
    assert len(rows) == 4 and tuple(np.asarray(k).tolist()) not in rows
    np.testing.assert_array_equal(np.asarray(gr.split(k, 4)), np.asarray(ks))  # deterministic
    k1, k2 = gr.split(k)
    assert not np.array_equal(np.asarray(gr.uniform(k1, (8,))), np.asarray(gr.uniform(k2, (8,))))
    f = [tuple(np.asarray(gr.fold_in(k, i)).tolist()) for i in range(5)]
    assert len(set(f)) == 5
    assert tuple(np.asarray(gr.fold_in(k, 3)).tolist()) == f[3]
    with pytest.raises(TypeError, match="key"):
        gr.split(gnp.ones(2))


def test_random_under_jit_and_vmap_is_the_same():
    k = gr.PRNGKey(7)
    eager = gr.normal(k, (16,))
    jitted = grilly.jit(lambda key: gr.normal(key, (16,)))(k)
    np.testing.assert_array_equal(np.asarray(jitted), np.asarray(eager))
    keys = gr.split(k, 3)
    vm = grilly.vmap(lambda key: gr.uniform(key, (4,)))(keys)
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(vm[i]), np.asarray(gr.uniform(keys[i], (4,))))


@pytest.mark.skipif(not on_vulkan(), reason="compares the Vulkan bits with the NumPy backend's")
def test_same_bits_on_every_backend():
    for fn in (lambda: gr.random_bits(gr.PRNGKey(3), 1001), lambda: gr.uniform(gr.PRNGKey(4), (513,)),
               lambda: gr.randint(gr.PRNGKey(5), (77,), 0, 1000)):
        np.testing.assert_array_equal(np.asarray(fn()), run_on_numpy(fn, [])[0])
    normal = lambda: gr.normal(gr.PRNGKey(4), (513,))  # noqa: E731  (erf_inv: equal up to float rounding)
    np.testing.assert_allclose(np.asarray(normal()), run_on_numpy(normal, [])[0], rtol=1e-5, atol=1e-6)


def _stats(x):
    x = np.asarray(x, np.float64)
    return x.mean(), x.std()


def test_uniform_range_and_moments():
    x = np.asarray(gr.uniform(gr.PRNGKey(0), (N,)))
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() < 1.0
    m, s = _stats(x)
    assert abs(m - 0.5) < 0.01 and abs(s - np.sqrt(1 / 12)) < 0.01
    y = np.asarray(gr.uniform(gr.PRNGKey(1), (N,), minval=-3.0, maxval=5.0))
    assert y.min() >= -3.0 and y.max() < 5.0 and abs(y.mean() - 1.0) < 0.08
    assert gr.uniform(gr.PRNGKey(1), (3,), dtype=np.float16).dtype == np.float16
    assert gr.uniform(gr.PRNGKey(1), (3,), dtype=BF16).dtype == BF16


def test_normal_moments_and_tails():
    x = np.asarray(gr.normal(gr.PRNGKey(2), (N,)))
    m, s = _stats(x)
    assert abs(m) < 0.03 and abs(s - 1.0) < 0.03
    assert np.isfinite(x).all()
    frac = np.mean(np.abs(x) > 1.96)
    assert abs(frac - 0.05) < 0.01


def test_truncated_normal_bounds():
    x = np.asarray(gr.truncated_normal(gr.PRNGKey(3), -1.0, 2.0, (N,)))
    assert x.min() > -1.0 and x.max() < 2.0
    assert abs(x.mean() - 0.2283) < 0.02  # the mean of N(0,1) truncated to (-1, 2)


def test_bernoulli_rate():
    x = np.asarray(gr.bernoulli(gr.PRNGKey(4), 0.3, (N,)))
    assert x.dtype == np.bool_ and abs(x.mean() - 0.3) < 0.015
    p = gnp.asarray(np.array([0.0, 1.0, 0.5], np.float32))
    y = np.asarray(gr.bernoulli(gr.PRNGKey(5), p))
    assert y.shape == (3,) and not y[0] and y[1]


def test_randint_range_and_uniformity():
    x = np.asarray(gr.randint(gr.PRNGKey(6), (N,), -3, 7))
    assert x.dtype == np.int32 and x.min() == -3 and x.max() == 6
    counts = np.bincount(x + 3, minlength=10) / N
    assert np.all(np.abs(counts - 0.1) < 0.015)
    assert gr.randint(gr.PRNGKey(6), (4,), 0, 5, dtype=np.uint8).dtype == np.uint8
    with pytest.raises(ValueError, match="maxval > minval"):
        gr.randint(gr.PRNGKey(6), (4,), 5, 5)


def test_categorical_frequencies():
    logits = np.log(np.array([0.1, 0.2, 0.7], np.float32))
    x = np.asarray(gr.categorical(gr.PRNGKey(7), gnp.asarray(logits), shape=(N,)))
    freq = np.bincount(x, minlength=3) / N
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.015)
    batched = gr.categorical(gr.PRNGKey(8), gnp.asarray(np.log(np.eye(3, dtype=np.float32) + 1e-9)))
    assert np.asarray(batched).tolist() == [0, 1, 2]


def test_permutation_and_choice():
    p = np.asarray(gr.permutation(gr.PRNGKey(9), 50))
    assert sorted(p.tolist()) == list(range(50)) and p.tolist() != list(range(50))
    xs = gnp.arange(10.0) * 2
    q = np.asarray(gr.permutation(gr.PRNGKey(9), xs))
    assert sorted(q.tolist()) == (np.arange(10.0) * 2).tolist()
    c = np.asarray(gr.choice(gr.PRNGKey(10), 8, (5,), replace=False))
    assert len(set(c.tolist())) == 5 and c.max() < 8


def test_gumbel_and_exponential_moments():
    g = np.asarray(gr.gumbel(gr.PRNGKey(11), (N,)))
    assert abs(g.mean() - 0.5772) < 0.03
    e = np.asarray(gr.exponential(gr.PRNGKey(12), (N,)))
    assert e.min() >= 0 and abs(e.mean() - 1.0) < 0.03
