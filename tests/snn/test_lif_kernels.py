"""The fused LIF kernels on the default backend against the NumPy reference impls, at a size spanning many
workgroups (N = 70_001 neurons) over T = 11 steps (the kernels load 8 steps ahead, then finish one at a time),
forward and backward, for every surrogate, both resets and detach_reset; and the execution-only rewrites that
let a jitted gradient skip dead outputs and materialized scalar cotangents."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly import snn
from grilly.core.specialize import specialize
from grilly.snn.lif_primitive import _lif_scan_bwd_impl_numpy, _lif_scan_impl_numpy, lif_scan_bwd_p, lif_scan_p

N, T = 70_001, 11


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


def test_scalar_cotangents_stand_for_their_broadcast(data):
    xs, v0, (gs, _, _) = data
    p = dict(a=0.5, v_th=1.0, v_reset=None, decay_input=True, fire_at_equal=True, detach_reset=False,
             surrogate=snn.surrogate.atan())
    h = lif_scan_p.bind(gnp.asarray(xs), gnp.asarray(v0), **p)[2]
    got = lif_scan_bwd_p.bind(h, gnp.asarray(gs), gnp.asarray(np.float32(0.5)), gnp.asarray(np.float32(-2.0)), **p)
    want = _lif_scan_bwd_impl_numpy(np.asarray(h), gs, np.full_like(gs, 0.5), np.full_like(gs, -2.0), **p)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=2e-5, atol=2e-5)


def _lif_eqns(prog):
    return [e for e in prog.eqns if e.prim in (lif_scan_p, lif_scan_bwd_p)]


def test_jitted_gradient_skips_dead_outputs_and_the_broadcast_cotangent(data):
    xs = data[0][:, :5000]

    def loss(x):
        return gnp.sum(snn.lif_scan(x, tau=2.0)[0])

    prog = grilly.make_program(grilly.grad(loss))(xs)
    fwd, bwd = _lif_eqns(specialize(prog))
    assert fwd.params["unused"] == (0, 1)  # the loss value is not returned: only H is needed
    assert all(v.aval.shape == () for v in bwd.inputs[1:])  # the ones of sum's VJP stay a scalar
    assert not any(e.prim.name == "broadcast_in_dim" and e.out_vars[0].aval.shape == xs.shape
                   for e in specialize(prog).eqns)
    p = dict(a=0.5, v_th=1.0, v_reset=0.0, decay_input=True, fire_at_equal=True, detach_reset=False,
             surrogate=snn.surrogate.atan())
    h = _lif_scan_impl_numpy(xs, np.zeros(xs.shape[1:], np.float32), **p)[2]
    want = _lif_scan_bwd_impl_numpy(h, np.ones_like(xs), np.zeros_like(xs), np.zeros_like(xs), **p)[0]
    np.testing.assert_allclose(np.asarray(grilly.jit(grilly.grad(loss))(xs)), want, rtol=2e-5, atol=2e-5)

    value_and_grad = grilly.jit(grilly.value_and_grad(loss))
    (fwd, _) = _lif_eqns(specialize(grilly.make_program(grilly.value_and_grad(loss))(xs)))
    assert fwd.params["unused"] == (1,)
    val, g = value_and_grad(xs)
    assert float(val) == _lif_scan_impl_numpy(xs, np.zeros(xs.shape[1:], np.float32), **p)[0].sum()
    np.testing.assert_allclose(np.asarray(g), want, rtol=2e-5, atol=2e-5)


def test_jitted_forward_writes_only_what_is_returned(data):
    xs = data[0][:, :5000]
    f = grilly.jit(lambda x: snn.lif_scan(x, tau=2.0)[0])
    (fwd,) = _lif_eqns(specialize(grilly.make_program(lambda x: snn.lif_scan(x, tau=2.0)[0])(xs)))
    assert fwd.params["unused"] == (1, 2)
    p = dict(a=0.5, v_th=1.0, v_reset=0.0, decay_input=True, fire_at_equal=True, detach_reset=False,
             surrogate=snn.surrogate.atan())
    np.testing.assert_array_equal(np.asarray(f(xs)), _lif_scan_impl_numpy(xs, np.zeros(5000, np.float32), **p)[0])
    # the hint never reaches a program that is transformed again: grad of the jitted function is still right
    g = grilly.grad(lambda x: gnp.sum(f(x) * 2.0))(xs)
    h = _lif_scan_impl_numpy(xs, np.zeros(5000, np.float32), **p)[2]
    want = _lif_scan_bwd_impl_numpy(h, np.full_like(xs, 2.0), np.zeros_like(xs), np.zeros_like(xs), **p)[0]
    np.testing.assert_allclose(np.asarray(g), want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("dtype, tol", [(np.float16, 2e-3), (ml_dtypes.bfloat16, 1.6e-2)])
@pytest.mark.parametrize("name", ["atan", "sigmoid", "triangle"])
@pytest.mark.parametrize("v_reset", [0.0, None])
def test_16bit_storage(data, dtype, tol, name, v_reset):
    """float16 / bfloat16 sequences: float32 arithmetic inside, outputs rounded to the storage dtype."""
    xs, v0, (gs, gv, gh) = (x.astype(dtype) if isinstance(x, np.ndarray) else [c.astype(dtype) for c in x]
                            for x in data)
    p = dict(a=0.4, v_th=1.0, v_reset=v_reset, decay_input=True, fire_at_equal=True, detach_reset=False,
             surrogate=getattr(snn.surrogate, name)())
    out = lif_scan_p.bind(gnp.asarray(xs), gnp.asarray(v0), **p)
    ref = _lif_scan_impl_numpy(xs, v0, **p)
    for got, want in zip(out, ref):
        assert got.dtype == dtype
        np.testing.assert_array_equal(np.asarray(got).view(np.uint16), want.view(np.uint16))
    back = lif_scan_bwd_p.bind(out[2], gnp.asarray(gs), gnp.asarray(gv), gnp.asarray(gh), **p)
    ref_back = _lif_scan_bwd_impl_numpy(ref[2], gs, gv, gh, **p)
    for got, want in zip(back, ref_back):
        assert got.dtype == dtype
        np.testing.assert_allclose(np.asarray(got).astype(np.float32), want.astype(np.float32), rtol=tol, atol=tol)
    g = grilly.grad(lambda x: gnp.sum(snn.lif_scan(x, tau=2.5, surrogate=name)[0]).astype(np.float32))(
        gnp.asarray(xs))
    assert g.dtype == dtype and np.isfinite(np.asarray(g).astype(np.float32)).all()
