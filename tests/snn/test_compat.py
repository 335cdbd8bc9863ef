"""The classic facade: Compute.lif_step / hebbian_learning / stdp_learning and SNNCompute, as in the README."""

from __future__ import annotations

import math

import numpy as np
import pytest

import grilly
from grilly.compat.compute import Compute, SNNCompute, VulkanCompute


def _np_lif(i, v, r, dt=0.001, tau=20.0, th=1.0, vr=0.0, tref=2.0):
    a = np.float32(1000 * dt / tau)
    active = r <= 0
    v = np.where(active, v + (i - v) * a, v)
    s = active & (v >= th)
    return np.where(s, vr, v), np.where(s, tref, np.maximum(r - 1000 * dt, 0)), s.astype(np.float32)


def test_readme_lif_step(rng):
    backend = grilly.Compute()
    assert VulkanCompute is Compute and isinstance(backend, Compute)
    i = rng.normal(size=1000).astype(np.float32) * 30
    v = rng.random(1000).astype(np.float32)
    r = (rng.random(1000) < 0.2).astype(np.float32) * 1.5
    m2, r2, s2 = backend.lif_step(i, v, r, dt=0.001, tau_mem=20.0, v_thresh=1.0)
    wm, wr, ws = _np_lif(i, v, r)
    assert s2.dtype == np.float32 and 0 < s2.sum() < 1000
    np.testing.assert_array_equal(s2, ws)
    np.testing.assert_allclose(m2, wm, atol=1e-6)
    np.testing.assert_allclose(r2, wr, atol=1e-6)


def test_snncompute_process_state_roundtrip(rng):
    net = grilly.SNNCompute(n_neurons=50, dt=0.001, tau_mem=10.0)
    assert isinstance(net, SNNCompute)
    xs = rng.uniform(0, 40, (12, 50)).astype(np.float32)
    v, r, total = np.zeros(50, np.float32), np.zeros(50, np.float32), 0.0
    for x in xs[:6]:
        s = net.process(x)
        v, r, ws = _np_lif(x, v, r, tau=10.0)
        np.testing.assert_array_equal(s, ws)
        total += s.sum()
    assert total > 0
    state = net.get_state()
    assert set(state) == {"membrane", "refractory", "t"} and state["t"] == 6
    rest = net.process_sequence(xs[6:])
    net.set_state(state)
    np.testing.assert_array_equal(net.process_sequence(xs[6:]), rest)
    net.reset()
    assert net.get_state()["membrane"].sum() == 0 and net.t == 0
    with pytest.raises(grilly.ShapeError):
        net.process(np.zeros(3, np.float32))


def test_refractory_period_in_ms():
    net = SNNCompute(n_neurons=1, dt=0.001, tau_mem=1.0, t_refrac=3.0)  # a = 1: v follows the input
    spikes = [float(net.process(np.array([5.0], np.float32))[0]) for _ in range(8)]
    assert spikes == [1, 0, 0, 0, 1, 0, 0, 0]


def test_hebbian_learning_orientations(rng):
    c = Compute()
    pre, post = rng.random((4, 3)).astype(np.float32), rng.random((4, 5)).astype(np.float32)
    w = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(c.hebbian_learning(w, pre, post, 0.1), w + 0.1 * post.T @ pre / 4, rtol=1e-5)
    np.testing.assert_allclose(c.hebbian_learning(w.T, pre, post, 0.1), (w + 0.1 * post.T @ pre / 4).T, rtol=1e-5)
    with pytest.raises(grilly.ShapeError):
        c.hebbian_learning(np.zeros((2, 2), np.float32), pre, post)


def test_stdp_learning_pair_based(rng):
    pre = (rng.random((15, 3)) < 0.3).astype(np.float32)
    post = (rng.random((15, 2)) < 0.3).astype(np.float32)
    w = np.zeros((2, 3), np.float32)
    out = Compute().stdp_learning(w, pre, post, dt=0.001, A_plus=0.01, A_minus=0.012, tau_plus=20.0, tau_minus=10.0)
    tp, tq, dw = np.zeros(3), np.zeros(2), np.zeros((2, 3))
    for sp, sq in zip(pre, post):
        tp, tq = tp * math.exp(-1 / 20) + sp, tq * math.exp(-1 / 10) + sq
        dw += 0.01 * np.outer(sq, tp) - 0.012 * np.outer(tq, sp)
    np.testing.assert_allclose(out, dw, rtol=1e-5, atol=1e-7)
    clipped = Compute().stdp_learning(w, pre, post, w_min=0.0, w_max=0.005)
    assert clipped.min() >= 0 and clipped.max() <= 0.005


def test_feed_forward_methods(rng):
    c = Compute()
    x = rng.normal(size=(4, 6)).astype(np.float32)
    w, b = rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    np.testing.assert_allclose(c.linear(x, w, b), x @ w.T + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(c.activation_relu(x), np.maximum(x, 0))
    ln = c.layernorm(x, np.ones(6, np.float32), np.zeros(6, np.float32))
    np.testing.assert_allclose(ln, (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5),
                               atol=1e-4)
    q = rng.normal(size=(1, 5, 2, 4)).astype(np.float32)
    s = np.einsum("bqhd,bkhd->bhqk", q, q) / 2.0
    p = np.exp(s - s.max(-1, keepdims=True))
    want = np.einsum("bhqk,bkhd->bqhd", p / p.sum(-1, keepdims=True), q)
    np.testing.assert_allclose(c.flash_attention2(q, q, q), want, atol=1e-4)
