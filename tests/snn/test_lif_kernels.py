"""The fused LIF kernels on the default backend against the NumPy reference impls, at a size spanning many
workgroups (N = 70_001 neurons), forward and backward, for every surrogate, both resets and detach_reset."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly import snn
from grilly.snn.lif_primitive import _lif_scan_bwd_impl_numpy, _lif_scan_impl_numpy, lif_scan_bwd_p, lif_scan_p

N, T = 70_001, 4


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    xs = rng.normal(0.6, 0.8, (T, N)).astype(np.float32)
    v0 = rng.normal(0.0, 0.3, N).astype(np.float32)
    cts = [rng.normal(size=(T, N)).astype(np.float32) for _ in range(3)]
    return xs, v0, cts


@pytest.mark.parametrize("name", sorted(snn.surrogate.KINDS))
@pytest.mark.parametrize("v_reset, detach, decay_input", [(0.0, False, True), (None, False, False),
                                                          (-0.2, True, False), (None, True, True)])
def test_fused_kernels_match_numpy(data, name, v_reset, detach, decay_input):
    xs, v0, (gs, gv, gh) = data
    p = dict(a=0.3, v_th=1.0, v_reset=v_reset, decay_input=decay_input, fire_at_equal=True, detach_reset=detach,
             surrogate=getattr(snn.surrogate, name)())
    out = lif_scan_p.bind(gnp.asarray(xs), gnp.asarray(v0), **p)
    ref = _lif_scan_impl_numpy(xs, v0, **p)
    for got, want in zip(out, ref):
        np.testing.assert_array_equal(np.asarray(got), want)
    back = lif_scan_bwd_p.bind(out[2], gnp.asarray(gs), gnp.asarray(gv), gnp.asarray(gh), **p)
    ref_back = _lif_scan_bwd_impl_numpy(ref[2], gs, gv, gh, **p)
    for got, want in zip(back, ref_back):
        np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=2e-5)


def test_strict_threshold_and_the_public_gradient_at_size(data):
    xs, v0, (gs, _, _) = data
    x2 = xs[:, :70_000].reshape(T, 7, 10_000)  # a trailing shape of rank 2: neurons are flattened
    v2 = v0[:70_000].reshape(7, 10_000)
    gs = gs[:, :70_000]

    def loss(x):
        s, v = snn.lif_scan(x, v2, tau=4.0, fire_at_equal=False, surrogate="sigmoid")
        return gnp.sum(s * gs.reshape(x2.shape)) + gnp.sum(v)

    got = np.asarray(grilly.grad(loss)(x2))
    p = dict(a=0.25, v_th=1.0, v_reset=0.0, decay_input=True, fire_at_equal=False, detach_reset=False,
             surrogate=snn.surrogate.sigmoid())
    h = _lif_scan_impl_numpy(x2, v2, **p)[2]
    want = _lif_scan_bwd_impl_numpy(h, gs.reshape(x2.shape), np.ones_like(x2), np.zeros_like(x2), **p)[0]
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_empty_and_single_neuron():
    s, v = snn.lif_scan(gnp.zeros((0, 3)))
    assert s.shape == (0, 3) and v.shape == (0, 3)
    s, v = snn.lif_scan(gnp.full((3,), 0.9), decay_input=False)
    assert np.asarray(s).tolist() == [0.0, 1.0, 0.0]
    g = grilly.grad(lambda x: gnp.sum(snn.lif_scan(x)[1]))(gnp.zeros((0, 3)))
    assert g.shape == (0, 3)
