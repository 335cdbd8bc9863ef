"""LIF golden traces and gradients (SNN_REFERENCE.md), both forms, both resets, detach and not, fused and
unfused, and composition with grad / jit / vmap / an outer lax.scan."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.lax as lax
import grilly.numpy as gnp
from grilly import snn
from grilly.test_util import check_grads

X = np.array([0.6, 0.6, 0.6, 0.6, 1.5, 0.0, 0.6, 0.6], np.float32)
W = np.arange(1, 9, dtype=np.float32)
GOLDEN = {  # (decay_input, hard reset) -> (S, V)
    (True, True): ([0, 0, 0, 0, 1, 0, 0, 0], [0.3, 0.45, 0.525, 0.5625, 0, 0, 0.3, 0.45]),
    (True, False): ([0, 0, 0, 0, 1, 0, 0, 0], [0.3, 0.45, 0.525, 0.5625, 0.03125, 0.015625, 0.30781, 0.45391]),
    (False, False): ([0, 0, 1, 0, 1, 0, 0, 1], [0.6, 0.9, 0.05, 0.625, 0.8125, 0.40625, 0.80312, 0.00156]),
    (False, True): ([0, 0, 1, 0, 1, 0, 0, 0], [0.6, 0.9, 0, 0.6, 0, 0, 0.6, 0.9]),
}
GRAD_FORM_B_SOFT = {False: [0.98564, 1.95311, 2.95592, 2.33904, 2.28461, 3.73571, 6.16989, 7.99981],
                    True: [2.46427, 4.15309, 4.66551, 3.47549, 3.60078, 5.87098, 9.06304, 7.99981]}


def _np_lif(x, v0, a, v_th, v_reset, decay_input, fire_at_equal=True):
    """The reference equations, step by step in float32."""
    f = np.float32
    v, vr = np.asarray(v0, f), f(0 if v_reset is None else v_reset)
    S, V = [], []
    for xt in x:
        h = v + (xt - (v - vr)) * f(a) if decay_input else v - (v - vr) * f(a) + xt
        s = (h >= f(v_th)) if fire_at_equal else (h > f(v_th))
        v = np.where(s, vr, h) if v_reset is not None else h - f(v_th) * s
        S.append(s.astype(f))
        V.append(v)
    return np.stack(S), np.stack(V)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("decay_input, hard", list(GOLDEN))
def test_golden_trace(fused, decay_input, hard):
    s, v = snn.lif_scan(X, tau=2.0, v_reset=0.0 if hard else None, decay_input=decay_input, fused=fused)
    want_s, want_v = GOLDEN[(decay_input, hard)]
    assert np.asarray(s).tolist() == want_s
    np.testing.assert_allclose(np.asarray(v), want_v, atol=6e-6)
    ref_s, ref_v = _np_lif(X, 0.0, 0.5, 1.0, 0.0 if hard else None, decay_input)
    np.testing.assert_array_equal(np.asarray(v), ref_v)  # bit-exact at tau = 2
    np.testing.assert_array_equal(np.asarray(s), ref_s)


@pytest.mark.parametrize("tau, dt", [(5.0, 1.0), (10.0, 1.0), (10 / 3, 1.0), (20.0, 0.5)])
@pytest.mark.parametrize("hard", [True, False])
def test_other_time_constants(tau, dt, hard, rng):
    x = rng.uniform(-0.5, 2.0, (16, 7)).astype(np.float32)
    s, v = snn.lif_scan(x, tau=tau, dt=dt, v_reset=0.0 if hard else None)
    ref_s, ref_v = _np_lif(x, np.zeros(7), dt / tau, 1.0, 0.0 if hard else None, True)
    np.testing.assert_array_equal(np.asarray(s), ref_s)
    np.testing.assert_allclose(np.asarray(v), ref_v, atol=1e-6)


def test_fire_at_equality_is_an_argument():
    x = np.array([1.0, 0.0], np.float32)  # H = 1.0 exactly at step 0 with decay_input=False
    s_eq, _ = snn.lif_scan(x, decay_input=False)
    s_gt, _ = snn.lif_scan(x, decay_input=False, fire_at_equal=False)
    assert np.asarray(s_eq).tolist() == [1.0, 0.0] and np.asarray(s_gt).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("detach", [False, True])
def test_golden_gradient_form_b_soft(fused, detach):
    def loss(x):
        s, _ = snn.lif_scan(x, decay_input=False, v_reset=None, detach_reset=detach, fused=fused)
        return gnp.sum(s * W)

    np.testing.assert_allclose(np.asarray(grilly.grad(loss)(X)), GRAD_FORM_B_SOFT[detach], rtol=2e-5)


@pytest.mark.parametrize("name", sorted(snn.surrogate.KINDS))
@pytest.mark.parametrize("v_reset", [0.0, None, -0.3])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("decay_input", [True, False])
def test_fused_vjp_matches_autodiff_of_the_unfused_scan(name, v_reset, detach, decay_input, rng):
    sg = getattr(snn.surrogate, name)()
    x = rng.normal(0.5, 0.8, (6, 5)).astype(np.float32)
    v0 = rng.normal(0.0, 0.3, 5).astype(np.float32)
    ws, wv = rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=(6, 5)).astype(np.float32)

    def loss(x, v0, fused):
        s, v = snn.lif_scan(x, v0, tau=3.0, v_reset=v_reset, detach_reset=detach, decay_input=decay_input,
                            surrogate=sg, fused=fused)
        return gnp.sum(s * ws) + gnp.sum(v * wv)

    got = grilly.grad(loss, argnums=(0, 1))(x, v0, True)
    want = grilly.grad(loss, argnums=(0, 1))(x, v0, False)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("v_reset", [0.0, None])
def test_subthreshold_potential_against_finite_differences(v_reset, x64):
    # below threshold with a detached reset, V is linear in x and the surrogate never enters the derivative
    x = np.random.default_rng(1).uniform(-0.2, 0.2, (5, 3))
    f = lambda x: snn.lif_scan(x, tau=3.0, v_th=10.0, v_reset=v_reset, detach_reset=True)[1]  # noqa: E731
    check_grads(f, (x,), order=1, modes=("rev", "fwd"))


def test_jvp_matches_vjp_through_the_surrogate(rng):
    x = rng.normal(0.6, 0.8, (6, 4)).astype(np.float32)
    t = rng.normal(size=x.shape).astype(np.float32)
    ct = rng.normal(size=x.shape).astype(np.float32)
    f = lambda x: snn.lif_scan(x, v_reset=None)[0]  # noqa: E731
    _, jt = grilly.jvp(f, (x,), (t,))
    (vt,) = grilly.vjp(f, x)[1](gnp.asarray(ct))
    np.testing.assert_allclose(float(np.sum(np.asarray(jt) * ct)), float(np.sum(np.asarray(vt) * t)), rtol=1e-4)


def test_lif_step_matches_scan(rng):
    x = rng.normal(0.6, 0.8, (5, 3)).astype(np.float32)
    v = gnp.zeros(3)
    for t in range(5):
        s, v = snn.lif_step(v, x[t], tau=4.0, v_reset=None)
    np.testing.assert_allclose(np.asarray(v), np.asarray(snn.lif_scan(x, tau=4.0, v_reset=None)[1][-1]), atol=1e-6)


def test_composes_with_jit_vmap_and_outer_scan(rng):
    xs = rng.normal(0.6, 0.8, (6, 3, 4)).astype(np.float32)

    def loss(x):
        s, v = snn.lif_scan(x, v_reset=None)
        return gnp.sum(s * gnp.arange(4.0)) + gnp.sum(v ** 2)

    g = np.asarray(grilly.grad(loss)(xs))
    np.testing.assert_allclose(np.asarray(grilly.jit(grilly.grad(loss))(xs)), g, atol=1e-5)
    per_member = grilly.vmap(grilly.grad(loss), in_axes=1, out_axes=1)(xs)
    loop = np.stack([np.asarray(grilly.grad(loss)(xs[:, b])) for b in range(3)], 1)
    np.testing.assert_allclose(np.asarray(per_member), loop, atol=1e-5)

    def chunked(x):
        def body(v, xc):
            s, vs = snn.lif_scan(xc, v)
            return vs[-1], gnp.sum(s * gnp.arange(4.0))
        v, tot = lax.scan(body, gnp.zeros((3, 4)), x.reshape(3, 2, 3, 4))
        return gnp.sum(tot) + gnp.sum(v)

    def whole(x):
        s, vs = snn.lif_scan(x)
        return gnp.sum(s * gnp.arange(4.0)) + gnp.sum(vs[-1])

    np.testing.assert_allclose(float(chunked(xs)), float(whole(xs)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(grilly.grad(chunked)(xs)), np.asarray(grilly.grad(whole)(xs)), atol=1e-5)


def test_vmap_with_batched_initial_state(rng):
    xs = rng.normal(0.6, 0.8, (4, 5)).astype(np.float32)
    v0 = rng.normal(0, 0.3, (3, 5)).astype(np.float32)
    out = grilly.vmap(lambda v: snn.lif_scan(xs, v)[1])(v0)
    loop = np.stack([np.asarray(snn.lif_scan(xs, v0[b])[1]) for b in range(3)])
    np.testing.assert_allclose(np.asarray(out), loop, atol=1e-6)


def test_if_neuron_and_errors():
    s, v = snn.if_scan(np.full(5, 0.4, np.float32))
    assert np.asarray(s).tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="built-in surrogate"):
        snn.lif_scan(X, surrogate=snn.surrogate.custom(lambda u: u * 0 + 1.0), fused=True)


@pytest.mark.parametrize("v_reset, surrogate", [(0.0, "atan"), (None, "sigmoid"), (-0.1, "triangle")])
def test_second_derivatives_through_the_fused_pass(rng, v_reset, surrogate):
    """grad of grad through the fused kernels equals grad of grad through the unfused scan (same surrogate)."""
    xs = rng.normal(0.6, 0.8, (6, 4, 3)).astype(np.float32)
    w = rng.normal(size=(6, 4, 3)).astype(np.float32)

    def outer(fused):
        def inner(y):
            s, v = snn.lif_scan(y, tau=2.0, v_reset=v_reset, surrogate=surrogate, fused=fused)
            return gnp.sum(s * w) + gnp.sum(v ** 2)

        return lambda x: gnp.sum(grilly.grad(inner)(x) ** 2)

    got = grilly.grad(outer(True))(xs)
    want = grilly.grad(outer(False))(xs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)
    got_jit = grilly.jit(grilly.grad(outer(True)))(xs)
    np.testing.assert_allclose(np.asarray(got_jit), np.asarray(want), rtol=1e-4, atol=1e-5)

    def loss(fused):
        def f(y):
            s, v = snn.lif_scan(y, tau=2.0, v_reset=v_reset, surrogate=surrogate, fused=fused)
            return gnp.sum(s * w) + gnp.sum(v ** 2)

        return f

    # a Hessian-vector product, forward over reverse (fused only: the unfused scan's surrogate is a custom_vjp,
    # which has no forward mode), against reverse over reverse through the unfused scan
    fwd_rev = grilly.jvp(grilly.grad(loss(True)), (gnp.asarray(xs),), (gnp.asarray(w),))[1]
    rev_rev = grilly.grad(lambda x: gnp.sum(grilly.grad(loss(False))(x) * w))(xs)
    np.testing.assert_allclose(np.asarray(fwd_rev), np.asarray(rev_rev), rtol=1e-4, atol=1e-5)


def test_norse_lifbox_parameterisation(rng):
    # Norse LIFBox: v' = v + dt·tau_mem_inv·((v_leak − v) + x), fire at v' > θ, reset to v_reset (v_leak = 0)
    dt, tau_mem_inv = 1e-3, 100.0
    x = rng.uniform(0.0, 3.0, (20, 9)).astype(np.float32)
    s, v = snn.lif_scan(x, dt=dt, tau=1.0 / tau_mem_inv, fire_at_equal=False)
    f = np.float32
    vv, S, V = np.zeros(9, f), [], []
    for xt in x:
        vp = vv + f(dt * tau_mem_inv) * ((f(0) - vv) + xt)
        z = vp > 1
        vv = np.where(z, f(0), vp)
        S.append(z.astype(f))
        V.append(vv)
    np.testing.assert_array_equal(np.asarray(s), np.array(S))
    np.testing.assert_allclose(np.asarray(v), np.array(V), atol=1e-6)
