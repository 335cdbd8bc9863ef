"""IF, current-based LIF, adaptive LIF, refractory LIF and Izhikevich against NumPy loops of their equations."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly import snn


def _x(rng, shape=(12, 5), lo=-0.3, hi=1.6):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def test_if_matches_numpy(rng):
    x = _x(rng)
    s, v = snn.if_scan(x, v_reset=None)
    vv, S, V = np.zeros(5, np.float32), [], []
    for xt in x:
        h = vv + xt
        st = h >= 1
        vv = h - st
        S.append(st)
        V.append(vv)
    np.testing.assert_array_equal(np.asarray(s), np.array(S, np.float32))
    np.testing.assert_allclose(np.asarray(v), np.array(V), atol=1e-6)


def test_cuba_lif_matches_norse_equations(rng):
    x = _x(rng, lo=-0.2, hi=0.8)
    s, v, i = snn.cuba_lif_scan(x, tau_mem=4.0, tau_syn=2.0)
    vv, ii, S = np.zeros(5), np.zeros(5), []
    for xt in x.astype(np.float64):
        ii = ii + xt
        h = vv + 0.25 * (-vv + ii)
        st = h >= 1
        vv = np.where(st, 0.0, h)
        ii = ii - 0.5 * ii
        S.append(st)
    np.testing.assert_array_equal(np.asarray(s), np.array(S, np.float32))
    np.testing.assert_allclose(np.asarray(v[-1]), vv, atol=1e-5)
    np.testing.assert_allclose(np.asarray(i[-1]), ii, atol=1e-5)


def test_alif_threshold_adapts(rng):
    x = np.full((30, 1), 1.2, np.float32)
    s_lif, _ = snn.lif_scan(x, tau=2.0)
    s_alif, _, b = snn.alif_scan(x, tau=2.0, tau_adapt=20.0, beta=0.5)
    assert float(np.sum(np.asarray(s_alif))) < float(np.sum(np.asarray(s_lif)))
    vv, bb, S = 0.0, 0.0, []
    for xt in x[:, 0]:
        h = vv + (xt - vv) * 0.5
        th = 1.0 + 0.5 * bb
        st = float(h >= th)
        vv = h * (1 - st)
        bb = bb - bb / 20.0 + st
        S.append(st)
    np.testing.assert_array_equal(np.asarray(s_alif)[:, 0], S)
    g = grilly.grad(lambda x: gnp.sum(snn.alif_scan(x, beta=0.5)[0]))(x)
    assert np.all(np.isfinite(np.asarray(g))) and np.any(np.asarray(g) != 0)


@pytest.mark.parametrize("refractory", [1, 3])
def test_refractory_period_masks_spikes_and_freezes_v(refractory):
    x = np.full((10, 1), 3.0, np.float32)
    s, v, rho = snn.lif_refrac_scan(x, refractory=refractory)
    want = [1.0 if t % (refractory + 1) == 0 else 0.0 for t in range(10)]
    assert np.asarray(s)[:, 0].tolist() == want
    frozen = np.asarray(rho)[:-1, 0] > 0
    np.testing.assert_array_equal(np.asarray(v)[1:, 0][frozen], 0.0)  # held at the reset value


def test_refractory_zero_is_plain_lif(rng):
    x = _x(rng)
    s, v, _ = snn.lif_refrac_scan(x, refractory=0, tau=3.0)
    s2, v2 = snn.lif_scan(x, tau=3.0)
    np.testing.assert_array_equal(np.asarray(s), np.asarray(s2))
    np.testing.assert_allclose(np.asarray(v), np.asarray(v2), atol=1e-6)


def test_izhikevich_regular_spiking():
    x = np.full((200, 1), 10.0, np.float32)
    s, v, u = snn.izhikevich_scan(x)
    vv, uu, n = -65.0, -13.0, 0
    for _ in range(200):
        vn = vv + (0.04 * vv * vv + 5 * vv + 140 - uu + 10.0)
        uu = uu + 0.02 * (0.2 * vv - uu)
        vv = vn
        if vv >= 30:
            vv, uu, n = -65.0, uu + 8.0, n + 1
    assert float(np.sum(np.asarray(s))) == n and n > 3
    np.testing.assert_allclose(float(np.asarray(v)[-1, 0]), vv, rtol=1e-3, atol=1e-2)
