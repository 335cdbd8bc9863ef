"""SNN modules are pytrees: spiking Linear/Conv blocks, the recurrent LIF layer, neuron layers, readout."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
import grilly.random as gr
from grilly import snn, tree

nn = pytest.importorskip("grilly.nn")


def test_spiking_linear_is_lif_of_linear(rng):
    layer = snn.SpikingLinear(4, 3, key=gr.PRNGKey(0), tau=4.0, v_reset=None)
    x = rng.random((6, 2, 4)).astype(np.float32) * 2
    w, b = np.asarray(layer.weight), np.asarray(layer.bias)
    s, v = snn.lif_scan(x @ w.T + b, tau=4.0, v_reset=None)
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(s))
    leaves = tree.leaves(layer)
    assert len(leaves) == 2 and {tuple(a.shape) for a in leaves} == {(3, 4), (3,)}


def test_gradient_reaches_weights_through_the_fused_kernel(rng):
    model = nn.Sequential(snn.SpikingLinear(4, 8, key=gr.PRNGKey(1)), snn.SpikingLinear(8, 2, key=gr.PRNGKey(2)))
    x = rng.random((5, 3, 4)).astype(np.float32) * 3

    def loss(m):
        return gnp.mean((gnp.mean(m(x), axis=0) - 0.5) ** 2)

    g = grilly.jit(grilly.grad(loss))(model)
    gw = np.asarray(g.layers[0].weight)
    assert gw.shape == (8, 4) and np.all(np.isfinite(gw)) and np.any(gw != 0)


def test_spiking_conv2d_matches_per_step_convolution(rng):
    conv = snn.SpikingConv2d(2, 3, 3, key=gr.PRNGKey(3))
    x = rng.random((4, 2, 2, 5, 5)).astype(np.float32)
    cur = np.stack([np.asarray(grilly.lax.conv_general_dilated(x[t], conv.weight, (1, 1), "SAME")) for t in range(4)])
    cur = cur + np.asarray(conv.bias).reshape(1, 1, -1, 1, 1)
    np.testing.assert_allclose(np.asarray(conv.current(x)), cur, atol=1e-5)
    assert conv(x).shape == (4, 2, 3, 5, 5)


def test_recurrent_lif_matches_numpy(rng):
    layer = snn.RecurrentLIF(3, 4, key=gr.PRNGKey(4), v_reset=None)
    x = rng.random((6, 2, 3)).astype(np.float32) * 8
    w_in, w_rec, b = (np.asarray(a) for a in (layer.w_in, layer.w_rec, layer.bias))
    v, s, S = np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32), []
    for xt in x:
        h = v + (xt @ w_in.T + s @ w_rec.T + b - v) * np.float32(0.5)
        s = (h >= 1).astype(np.float32)
        v = h - s
        S.append(s)
    assert 0 < np.sum(S) < np.size(S)
    np.testing.assert_array_equal(np.asarray(layer(x)), np.array(S))
    g = grilly.grad(lambda m: gnp.sum(m(x)))(layer)
    assert np.any(np.asarray(g.w_rec) != 0)


def test_neuron_layers_and_readout():
    xs = gnp.full((4, 1), 0.6)
    assert snn.IF()(xs).tolist() == [[0.0], [1.0], [0.0], [1.0]]
    assert snn.LIF(tau=2.0, decay_input=False)(xs).tolist() == snn.lif_scan(xs, decay_input=False)[0].tolist()
    assert snn.ALIF(beta=1.0)(gnp.full((6, 1), 2.5)).tolist() == [[1.0], [0.0], [0.0], [1.0], [0.0], [0.0]]
    np.testing.assert_allclose(np.asarray(snn.LeakyReadout(tau=2.0, reduce="last")(gnp.ones((2, 1)))), [0.75])
    assert tree.leaves(snn.LIF()) == []
