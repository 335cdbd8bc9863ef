"""grilly's LIF against SpikingJelly's LIFNode (the primary oracle) and snnTorch's Leaky, where installed; and
the documented difference of snnTorch's default delayed reset (a negative test that needs no library)."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly import snn

X = np.array([0.6, 0.6, 0.6, 0.6, 1.5, 0.0, 0.6, 0.6], np.float32)
SNNTORCH_DEFAULT_S = [0, 0, 1, 0, 1, 0, 0, 0]  # Leaky(beta=0.5), reset_delay=True, subtract (SNN_REFERENCE.md)
SNNTORCH_DEFAULT_MEM = [0.6, 0.9, 1.05, 0.125, 1.5625, -0.21875, 0.49063, 0.84531]


def test_snntorch_default_delayed_reset_differs_from_form_b():
    s, v = snn.lif_scan(X, tau=2.0, decay_input=False, v_reset=None)
    s = np.asarray(s).tolist()
    assert s == [0, 0, 1, 0, 1, 0, 0, 1]
    assert s != SNNTORCH_DEFAULT_S  # the delayed reset loses the spike at t = 7
    assert not np.allclose(np.asarray(v), SNNTORCH_DEFAULT_MEM, atol=1e-3)


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.mark.parametrize("tau", [2.0, 5.0, 10.0 / 3.0])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("v_reset", [0.0, None])
@pytest.mark.parametrize("detach", [False, True])
def test_spikingjelly_lifnode(tau, decay_input, v_reset, detach):
    torch = _torch()
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    sj_sg = pytest.importorskip("spikingjelly.activation_based.surrogate")
    rng = np.random.default_rng(int(tau * 10) + 2 * decay_input + (v_reset is None))
    x = rng.uniform(-0.5, 2.5, (16, 64)).astype(np.float32)
    w_s, w_v = rng.normal(size=x.shape).astype(np.float32), rng.normal(size=x.shape).astype(np.float32)

    node = sj.LIFNode(tau=tau, decay_input=decay_input, v_reset=v_reset, detach_reset=detach,
                      surrogate_function=sj_sg.ATan(alpha=2.0), step_mode="m", store_v_seq=True)
    xt = torch.tensor(x, requires_grad=True)
    st = node(xt)
    (torch.sum(st * torch.tensor(w_s)) + torch.sum(node.v_seq * torch.tensor(w_v))).backward()

    def loss(x):
        s, v = snn.lif_scan(x, tau=tau, decay_input=decay_input, v_reset=v_reset, detach_reset=detach,
                            surrogate=snn.surrogate.atan(2.0))
        return gnp.sum(s * w_s) + gnp.sum(v * w_v), (s, v)

    g, (s, v) = grilly.grad(loss, has_aux=True)(x)
    np.testing.assert_array_equal(np.asarray(s), st.detach().numpy())
    np.testing.assert_allclose(np.asarray(v), node.v_seq.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(g), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_snntorch_leaky_without_delay_is_form_b(reset):
    torch = _torch()
    snntorch = pytest.importorskip("snntorch")
    leaky = snntorch.Leaky(beta=0.5, reset_mechanism=reset, reset_delay=False)
    mem, spikes, mems = torch.zeros(1), [], []
    for t in range(len(X)):
        s, mem = leaky(torch.tensor(X[t:t + 1]), mem)
        spikes.append(float(s[0]))
        mems.append(float(mem[0]))
    s, v = snn.lif_scan(X, tau=2.0, decay_input=False, v_reset=None if reset == "subtract" else 0.0,
                        fire_at_equal=False)
    assert np.asarray(s).tolist() == spikes
    np.testing.assert_allclose(np.asarray(v), mems, atol=1e-6)


def test_snntorch_default_is_the_documented_delayed_reset():
    torch = _torch()
    snntorch = pytest.importorskip("snntorch")
    leaky = snntorch.Leaky(beta=0.5)
    mem, spikes, mems = torch.zeros(1), [], []
    for t in range(len(X)):
        s, mem = leaky(torch.tensor(X[t:t + 1]), mem)
        spikes.append(float(s[0]))
        mems.append(float(mem[0]))
    assert spikes == SNNTORCH_DEFAULT_S
    np.testing.assert_allclose(mems, SNNTORCH_DEFAULT_MEM, atol=1e-5)
    assert spikes != np.asarray(snn.lif_scan(X, tau=2.0, decay_input=False, v_reset=None)[0]).tolist()
