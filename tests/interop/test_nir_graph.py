"""grilly.nir graph modules against NumPy forward-Euler references (no `nir` package needed)."""

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly import nir as gnir

pytest.importorskip("grilly.snn")  # spikes use grilly.snn's surrogate


def _lif_ref(xs, tau, r, v_leak, th, v_reset, dt=gnir.DEFAULT_DT, at_equal=False):
    v, out = np.zeros_like(xs[0]), []
    for x in xs:
        v = v + dt / tau * (v_leak - v + r * x)
        s = (v >= th) if at_equal else (v > th)
        v = np.where(s, v_reset, v)
        out.append(s.astype(np.float32))
    return np.stack(out), v


def _affine(rng, n_out, n_in, scale=1.0):
    return gnir.Affine(gnp.asarray(rng.normal(size=(n_out, n_in)).astype(np.float32) * scale),
                       gnp.asarray(rng.normal(size=n_out).astype(np.float32) * 0.1))


def test_lif_chain_matches_numpy_euler(rng):
    aff = _affine(rng, 6, 4)
    lif = gnir.LIF.from_beta(np.full(6, 0.75), v_threshold=np.full(6, 0.8), v_reset=np.full(6, 0.1))
    xs = rng.uniform(0, 1, size=(12, 3, 4)).astype(np.float32)
    ys, (neurons, _) = gnir.chain(aff, lif)(xs)
    cur = xs @ np.asarray(aff.weight).T + np.asarray(aff.bias)
    tau = gnir.DEFAULT_DT / 0.25
    want, v = _lif_ref(cur, tau, tau / gnir.DEFAULT_DT, 0.0, 0.8, 0.1)
    np.testing.assert_array_equal(np.asarray(ys), want)
    np.testing.assert_allclose(np.asarray(neurons["1"]), v, rtol=1e-5, atol=1e-5)
    assert 0 < want.sum() < want.size


def test_lif_matches_grilly_snn_lif_scan(rng):
    snn = pytest.importorskip("grilly.snn")
    xs = rng.uniform(0, 1.5, size=(10, 2, 5)).astype(np.float32)
    for decay_input in (True, False):
        node = gnir.LIF.from_grilly((5,), tau=4.0, v_th=1.0, decay_input=decay_input)
        ys, _ = gnir.chain(node)(xs)
        want, _ = snn.lif_scan(gnp.asarray(xs), tau=4.0, decay_input=decay_input)
        np.testing.assert_array_equal(np.asarray(ys), np.asarray(want))


def test_if_cubalif_li_integrator_steps(rng):
    x = rng.uniform(0, 1, size=(8, 1, 3)).astype(np.float32)
    dt = 0.5
    ys, _ = gnir.chain(gnir.IF(gnp.full((3,), 1.0), gnp.full((3,), 1.2), None, dt=dt))(x)
    v, want = np.zeros(3, np.float32), []
    for t in range(8):
        v = v + dt * x[t, 0]
        s = v > 1.2
        v = np.where(s, 0.0, v)
        want.append(s)
    np.testing.assert_array_equal(np.asarray(ys)[:, 0], np.array(want, np.float32))

    c = gnir.CubaLIF(*(gnp.full((3,), v) for v in (2.0, 4.0, 2.0, 0.0, 0.5, 0.0, 1.5)), dt=1.0)
    ys, _ = gnir.chain(c)(x)
    i = v = np.zeros(3, np.float32)
    want = []
    for t in range(8):
        i = i + 0.5 * (1.5 * x[t, 0] - i)
        v = v + 0.25 * (-v + 2.0 * i)
        s = v > 0.5
        v = np.where(s, 0.0, v)
        want.append(s)
    np.testing.assert_array_equal(np.asarray(ys)[:, 0], np.array(want, np.float32))

    li, _ = gnir.chain(gnir.LI(gnp.full((3,), 2.0), gnp.ones(3), gnp.zeros(3), dt=1.0))(x)
    integ, _ = gnir.chain(gnir.Integrator(gnp.ones(3), dt=1.0))(x)
    v, lis = np.zeros(3, np.float32), []
    for t in range(8):
        v = v + 0.5 * (x[t, 0] - v)
        lis.append(v)
    np.testing.assert_allclose(np.asarray(li)[:, 0], np.array(lis), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(integ)[:, 0], np.cumsum(x[:, 0], axis=0), rtol=1e-5, atol=1e-6)


def test_recurrent_edge_carries_previous_step(rng):
    w_in = _affine(rng, 4, 3)
    w_rec = gnir.Affine(gnp.asarray(rng.normal(size=(4, 4)).astype(np.float32)), None)
    lif = gnir.LIF.from_beta(np.full(4, 0.5), v_threshold=np.ones(4))
    g = gnir.Graph.build({"in": None, "w_in": w_in, "lif": lif, "w_rec": w_rec, "out": None},
                         [("in", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "out")],
                         ["in"], ["out"])
    assert g.back_edges == {("w_rec", "lif")}
    xs = rng.uniform(0, 1, size=(10, 2, 3)).astype(np.float32)
    ys, _ = g(xs)
    W, b, R = (np.asarray(a) for a in (w_in.weight, w_in.bias, w_rec.weight))
    v, s, want = np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32), []
    for x in xs:
        v = 0.5 * v + x @ W.T + b + s @ R.T
        s = (v > 1).astype(np.float32)
        v = np.where(s > 0, 0.0, v)
        want.append(s)
    np.testing.assert_array_equal(np.asarray(ys), np.stack(want))


def test_conv_flatten_chain(rng):
    w = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    conv = gnir.Conv(gnp.asarray(w), gnp.zeros(3), stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1))
    net = gnir.chain(conv, gnir.Flatten(0, -1), _affine(rng, 2, 3 * 4 * 4, 0.2))
    xs = rng.normal(size=(2, 1, 2, 4, 4)).astype(np.float32)
    ys, _ = net(xs)
    assert ys.shape == (2, 1, 2)
    xp = np.pad(xs[0], ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((1, 3, 4, 4), np.float32)
    for i in range(4):
        for j in range(4):
            ref[:, :, i, j] = np.einsum("bchw,ochw->bo", xp[:, :, i:i + 3, j:j + 3], w)
    aff = net.nodes["2"]
    want = ref.reshape(1, -1) @ np.asarray(aff.weight).T + np.asarray(aff.bias)
    np.testing.assert_allclose(np.asarray(ys[0]), want, rtol=1e-4, atol=1e-4)


def test_graph_under_jit_and_grad(rng):
    net = gnir.chain(_affine(rng, 5, 3), gnir.LIF.from_beta(np.full(5, 0.8), v_threshold=np.full(5, 0.5)))
    xs = gnp.asarray(rng.uniform(0, 1, size=(6, 2, 3)).astype(np.float32))
    ys, _ = net(xs)
    ys_jit, _ = grilly.jit(lambda m, x: m(x))(net, xs)
    np.testing.assert_array_equal(np.asarray(ys_jit), np.asarray(ys))
    g = grilly.grad(lambda m: gnp.sum(m(xs)[0]))(net)
    gw = np.asarray(g.nodes["0"].weight)
    assert gw.shape == (5, 3) and np.isfinite(gw).all() and np.abs(gw).sum() > 0
    y1, st = net.step(xs[0])
    y_rest, _ = net(xs[1:], st)
    np.testing.assert_array_equal(np.concatenate([np.asarray(y1)[None], np.asarray(y_rest)]), np.asarray(ys))
