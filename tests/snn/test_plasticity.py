"""STDP in trace form (SpikingJelly's stdp_linear_single_step) and Hebbian rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly import snn


def _np_stdp(w, pre_seq, post_seq, tau_pre, tau_post, f_pre, f_post, decay="linear"):
    tp, tq = np.zeros(pre_seq.shape[1:]), np.zeros(post_seq.shape[1:])
    total = np.zeros_like(w)
    for sp, sq in zip(pre_seq, post_seq):
        if decay == "linear":
            tp, tq = tp - tp / tau_pre + sp, tq - tq / tau_post + sq
        else:
            tp, tq = tp * math.exp(-1 / tau_pre) + sp, tq * math.exp(-1 / tau_post) + sq
        total += -f_pre(w) * np.einsum("bj,bi->ji", tq, sp) + f_post(w) * np.einsum("bj,bi->ji", sq, tp)
    return total, tp, tq


@pytest.mark.parametrize("decay", ["linear", "exp"])
def test_stdp_scan_matches_trace_form(rng, decay):
    pre = (rng.random((9, 2, 4)) < 0.4).astype(np.float32)
    post = (rng.random((9, 2, 3)) < 0.4).astype(np.float32)
    w = rng.normal(size=(3, 4)).astype(np.float32)
    traces, dw = snn.stdp_scan(w, pre, post, tau_pre=2.0, tau_post=4.0, f_pre=lambda w: 0.5 * w,
                               f_post=lambda w: 1.0 - w, decay=decay)
    want, tp, tq = _np_stdp(w, pre, post, 2.0, 4.0, lambda w: 0.5 * w, lambda w: 1.0 - w, decay)
    np.testing.assert_allclose(np.asarray(dw), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(traces.pre), tp, atol=1e-6)
    np.testing.assert_allclose(np.asarray(traces.post), tq, atol=1e-6)


def test_stdp_signs_pre_before_post_potentiates():
    w = gnp.zeros((1, 1))
    one, zero = gnp.ones((1,)), gnp.zeros((1,))
    _, dw_ltp = snn.stdp_scan(w, gnp.stack([one, zero]), gnp.stack([zero, one]))
    _, dw_ltd = snn.stdp_scan(w, gnp.stack([zero, one]), gnp.stack([one, zero]))
    assert float(dw_ltp[0, 0]) > 0 > float(dw_ltd[0, 0])


def test_stdp_beside_an_optimizer_step():
    optim = pytest.importorskip("grilly.optim")
    w = gnp.zeros((1, 1))
    _, dw = snn.stdp_scan(w, gnp.asarray([[1.0], [0.0]]), gnp.asarray([[0.0], [1.0]]))
    opt = optim.sgd(0.1)
    updates, _ = opt.update(snn.as_gradient(dw), opt.init(w), w)
    w_new = optim.apply_updates(w, updates)  # an SGD step on the plasticity "gradient" applies +lr·dW
    assert float(w_new[0, 0]) == pytest.approx(0.1 * float(dw[0, 0])) and float(dw[0, 0]) > 0


def test_online_stdp_inside_a_scan(rng):
    pre = (rng.random((12, 4)) < 0.5).astype(np.float32)
    post = (rng.random((12, 2)) < 0.5).astype(np.float32)
    w0 = rng.normal(size=(2, 4)).astype(np.float32)

    def body(carry, sp):
        w, tr = carry
        tr, dw = snn.stdp_step(w, tr, sp[0], sp[1], tau_pre=3.0, tau_post=3.0, f_pre=0.02, f_post=0.01)
        return (w + dw, tr), None

    (w, _), _ = grilly.lax.scan(body, (gnp.asarray(w0), snn.stdp_init(4, 2)), (pre, post))
    wn, tp, tq = w0.astype(np.float64), np.zeros(4), np.zeros(2)
    for sp, sq in zip(pre, post):
        tp, tq = tp - tp / 3 + sp, tq - tq / 3 + sq
        wn = wn - 0.02 * np.outer(tq, sp) + 0.01 * np.outer(sq, tp)
    np.testing.assert_allclose(np.asarray(w), wn, rtol=1e-5, atol=1e-6)


def test_hebbian_and_oja(rng):
    w = rng.normal(size=(3, 4)).astype(np.float32)
    pre, post = rng.random((5, 4)).astype(np.float32), rng.random((5, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(snn.hebbian_step(w, pre, post, lr=0.1, decay=0.01)),
                               0.1 * post.T @ pre - 0.01 * w, rtol=1e-5)
    y2 = (post ** 2).sum(0)
    np.testing.assert_allclose(np.asarray(snn.oja_step(w, pre, post, lr=0.1)),
                               0.1 * (post.T @ pre - y2[:, None] * w), rtol=1e-5, atol=1e-6)


def test_stdp_inside_jit():
    f = grilly.jit(lambda w, a, b: snn.stdp_scan(w, a, b)[1])
    pre = np.eye(3, dtype=np.float32)[:, None, :]
    post = np.roll(np.eye(3, dtype=np.float32), 1, 0)[:, None, :2]
    np.testing.assert_allclose(np.asarray(f(np.zeros((2, 3), np.float32), pre, post)),
                               np.asarray(snn.stdp_scan(np.zeros((2, 3), np.float32), pre, post)[1]))
