"""Transforms compose: higher-order grads, vmap/jit of grad, control flow under grad/jvp, custom rules,
checkpoint, stop_gradient, Jacobians and Hessians against analytic formulas, value_and_grad options."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.lax as lax
import grilly.numpy as gnp
from grilly.test_util import check_grads


def f_cubic(x):
    return gnp.sum(gnp.sin(x) * x ** 2)


def df_cubic(x):
    return np.cos(x) * x ** 2 + 2 * x * np.sin(x)


def d2f_cubic(x):  # diagonal of the Hessian
    return -np.sin(x) * x ** 2 + 4 * x * np.cos(x) + 2 * np.sin(x)


def test_grad_of_grad(x64):
    x = 0.7
    g2 = grilly.grad(grilly.grad(lambda v: gnp.sin(v) * v ** 2))(x)
    np.testing.assert_allclose(float(g2), d2f_cubic(np.array(x)), rtol=1e-10)
    g3 = grilly.grad(grilly.grad(grilly.grad(lambda v: v ** 4)))(2.0)
    assert float(g3) == pytest.approx(48.0)


def test_vmap_of_grad_and_jit_of_vmap_of_grad(rng):
    xs = rng.uniform(-2, 2, (5, 3)).astype(np.float32)
    want = df_cubic(xs)
    got = grilly.vmap(grilly.grad(f_cubic))(xs)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)
    got = grilly.jit(grilly.vmap(grilly.grad(f_cubic)))(xs)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)
    got = grilly.grad(lambda v: gnp.sum(grilly.vmap(f_cubic)(v)))(xs)  # grad of vmap
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def _rnn(w, h0, xs):
    def step(h, x):
        h = gnp.tanh(h * w + x)
        return h, h * h

    h, ys = lax.scan(step, h0, xs)
    return gnp.sum(h) + gnp.sum(ys)


def _rnn_unrolled(w, h0, xs):
    h, total = h0, 0.0
    for t in range(xs.shape[0]):
        h = gnp.tanh(h * w + xs[t])
        total = total + gnp.sum(h * h)
    return gnp.sum(h) + total


@pytest.mark.parametrize("reverse", [False, True])
def test_grad_of_scan_matches_unrolled_loop(reverse, x64, rng):
    w, h0, xs = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, (5, 3))
    f = _rnn if not reverse else (lambda w, h, x: _rnn(w, h, x[::-1]))
    g = _rnn_unrolled if not reverse else (lambda w, h, x: _rnn_unrolled(w, h, x[::-1]))
    got = grilly.grad(f, argnums=(0, 1, 2))(w, h0, xs)
    want = grilly.grad(g, argnums=(0, 1, 2))(w, h0, xs)
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)
    check_grads(lambda w, h: _rnn(w, h, xs), (w, h0), order=2)
    if reverse:
        sc = grilly.grad(lambda w: gnp.sum(lax.scan(lambda h, x: (gnp.tanh(h * w + x), h), h0, xs,
                                                    reverse=True)[1]))(w)
        un = grilly.grad(lambda w: gnp.sum(gnp.stack(_py_reverse_states(w, h0, xs))))(w)
        np.testing.assert_allclose(np.asarray(sc), np.asarray(un), rtol=1e-10)


def _py_reverse_states(w, h, xs):
    hs = []
    for t in range(xs.shape[0] - 1, -1, -1):
        hs.append(h)
        h = gnp.tanh(h * w + xs[t])
    return hs


def test_grad_of_scan_under_jit_and_vmap(rng):
    w = rng.uniform(-1, 1, 3).astype(np.float32)
    h0 = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    xs = rng.uniform(-1, 1, (5, 3)).astype(np.float32)
    g = grilly.jit(grilly.vmap(grilly.grad(_rnn), in_axes=(None, 0, None)))(w, h0, xs)
    for i in range(4):
        want = grilly.grad(_rnn_unrolled)(w, h0[i], xs)
        np.testing.assert_allclose(np.asarray(g[i]), np.asarray(want), rtol=1e-4, atol=1e-5)


def test_grad_of_cond_and_switch(x64):
    f = lambda p, x: lax.cond(p, lambda a: gnp.sin(a) * a, lambda a: gnp.exp(a), x)  # noqa: E731
    x = np.array([0.3, -0.4])
    g_true = grilly.grad(lambda v: gnp.sum(f(True, v)))(x)
    g_false = grilly.grad(lambda v: gnp.sum(f(False, v)))(x)
    np.testing.assert_allclose(np.asarray(g_true), np.cos(x) * x + np.sin(x), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(g_false), np.exp(x), rtol=1e-10)
    gs = grilly.grad(lambda v, i: gnp.sum(lax.switch(i, [gnp.sin, gnp.cos, gnp.tanh], v)))(x, 1)
    np.testing.assert_allclose(np.asarray(gs), -np.sin(x), rtol=1e-10)
    gg = grilly.grad(grilly.grad(lambda v: lax.cond(v > 0, lambda a: a ** 3, lambda a: -a, v)))(0.5)
    assert float(gg) == pytest.approx(3.0)


def test_jvp_of_scan_while_and_cond(x64, rng):
    x, t = rng.uniform(0.2, 0.8, 3), rng.standard_normal(3)
    _, ts = grilly.jvp(lambda v: lax.scan(lambda c, _: (c * gnp.sin(c), c), v, None, length=3)[0], (x,), (t,))
    c, dc = x, t
    for _ in range(3):
        c, dc = c * np.sin(c), dc * np.sin(c) + c * np.cos(c) * dc
    np.testing.assert_allclose(np.asarray(ts), dc, rtol=1e-10)
    wl = lambda v: lax.while_loop(lambda s: s[0] < 4, lambda s: (s[0] + 1, s[1] * v), (0, v))[1]  # noqa: E731
    _, tw = grilly.jvp(wl, (x,), (t,))
    np.testing.assert_allclose(np.asarray(tw), 5 * x ** 4 * t, rtol=1e-10)
    cd = lambda v: lax.cond(gnp.sum(v) > 0, lambda a: a * a, lambda a: -a, v)  # noqa: E731
    _, tc = grilly.jvp(cd, (x,), (t,))
    np.testing.assert_allclose(np.asarray(tc), 2 * x * t, rtol=1e-10)
    check_grads(wl, (x,), order=2, modes=("fwd",))
    check_grads(cd, (x,), order=2)


def _clip_grad():
    @grilly.custom_vjp
    def clip_gradient(x, lo, hi):
        return x

    def fwd(x, lo, hi):
        return x, (lo, hi)

    def bwd(res, g):
        lo, hi = res
        return gnp.clip(g, lo, hi), None, None

    clip_gradient.defvjp(fwd, bwd)
    return clip_gradient


def test_custom_vjp_eager_jit_vmap():
    clip = _clip_grad()
    f = lambda x: gnp.sum(clip(x, -1.0, 1.0) * 3.0)  # noqa: E731
    x = gnp.asarray(np.array([0.5, -2.0, 3.0], np.float32))
    assert np.asarray(grilly.grad(f)(x)).tolist() == [1.0, 1.0, 1.0]
    assert np.asarray(grilly.jit(grilly.grad(f))(x)).tolist() == [1.0, 1.0, 1.0]
    assert np.asarray(grilly.grad(grilly.jit(f))(x)).tolist() == [1.0, 1.0, 1.0]
    assert np.asarray(clip(x, -1.0, 1.0)).tolist() == np.asarray(x).tolist()
    per = grilly.vmap(grilly.grad(lambda v, s: clip(v, -1.0, 1.0) * s), in_axes=(0, 0))(
        x, gnp.asarray(np.array([0.5, 2.0, -4.0], np.float32)))
    assert np.asarray(per).tolist() == [0.5, 1.0, -1.0]
    vm = grilly.vmap(lambda v: clip(v, -1.0, 1.0) * 2.0)(x)
    assert np.asarray(vm).tolist() == (np.asarray(x) * 2).tolist()
    with pytest.raises(grilly.TransformError, match="custom_vjp"):
        grilly.jvp(lambda v: clip(v, -1.0, 1.0), (x,), (x,))


def test_custom_vjp_with_residuals_and_pytrees(x64, rng):
    @grilly.custom_vjp
    def f(p):
        return {"y": gnp.sin(p["a"]) * p["b"]}

    f.defvjp(lambda p: (f(p), (gnp.cos(p["a"]), gnp.sin(p["a"]), p["b"])),
             lambda res, g: ({"a": g["y"] * res[0] * res[2], "b": g["y"] * res[1]},))
    p = {"a": rng.uniform(-1, 1, 3), "b": rng.uniform(-1, 1, 3)}
    g = grilly.grad(lambda q: gnp.sum(f(q)["y"] ** 2))(p)
    y = np.sin(p["a"]) * p["b"]
    np.testing.assert_allclose(np.asarray(g["a"]), 2 * y * np.cos(p["a"]) * p["b"], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(g["b"]), 2 * y * np.sin(p["a"]), rtol=1e-10)
    check_grads(lambda a, b: f({"a": a, "b": b})["y"], (p["a"], p["b"]), order=1, modes=("rev",))


def test_custom_jvp_forward_reverse_vmap_jit(x64, rng):
    @grilly.custom_jvp
    def softplus(x):
        return gnp.log1p(gnp.exp(x))

    softplus.defjvp(lambda primals, tangents: (softplus(primals[0]), tangents[0] / (1.0 + gnp.exp(-primals[0]))))
    x = rng.uniform(-3, 3, 4)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(np.asarray(grilly.jvp(softplus, (x,), (np.ones(4),))[1]), sig, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(grilly.grad(lambda v: gnp.sum(softplus(v)))(x)), sig, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(grilly.jit(grilly.grad(lambda v: gnp.sum(softplus(v))))(x)), sig,
                               rtol=1e-10)
    np.testing.assert_allclose(np.asarray(grilly.vmap(grilly.grad(softplus))(x)), sig, rtol=1e-10)
    check_grads(softplus, (x,), order=2)

    @grilly.custom_jvp
    def wrong(x):
        return x * x

    wrong.defjvp(lambda p, t: (wrong(p[0]), 3.0 * t[0]))  # the rule, not the function, defines the derivative
    assert float(grilly.grad(wrong)(5.0)) == 3.0


def test_checkpoint_gives_the_same_gradients(x64, rng):
    def block(w, x):
        return gnp.tanh(x @ w) * gnp.sin(x @ w)

    w, x = rng.uniform(-1, 1, (3, 3)), rng.uniform(-1, 1, (2, 3))
    plain = grilly.grad(lambda w: gnp.sum(block(w, block(w, x))))(w)
    remat = grilly.grad(lambda w: gnp.sum(grilly.checkpoint(block)(w, grilly.checkpoint(block)(w, x))))(w)
    np.testing.assert_allclose(np.asarray(remat), np.asarray(plain), rtol=1e-10)
    check_grads(lambda w: grilly.checkpoint(block)(w, x), (w,), order=2)
    jitted = grilly.jit(grilly.grad(lambda w: gnp.sum(grilly.checkpoint(block)(w, x))))(w)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(grilly.grad(lambda w: gnp.sum(block(w, x)))(w)),
                               rtol=1e-10)
    vm = grilly.vmap(grilly.checkpoint(lambda r: gnp.sum(r * r)))(x)
    np.testing.assert_allclose(np.asarray(vm), (x * x).sum(1), rtol=1e-10)


def test_stop_gradient(rng):
    f = lambda x: gnp.sum(x * grilly.stop_gradient(x) + x)  # noqa: E731
    x = rng.uniform(-1, 1, 4).astype(np.float32)
    np.testing.assert_allclose(np.asarray(grilly.grad(f)(x)), x + 1, rtol=1e-6)
    _, t = grilly.jvp(lambda v: grilly.stop_gradient(v) * v, (x,), (np.ones(4, np.float32),))
    np.testing.assert_allclose(np.asarray(t), x, rtol=1e-6)
    tree = grilly.stop_gradient({"a": gnp.asarray(x), "b": (gnp.ones(2),)})
    assert np.asarray(tree["a"]).tolist() == x.tolist()
    assert float(grilly.grad(lambda v: grilly.stop_gradient(v) ** 2)(3.0)) == 0.0
    np.testing.assert_allclose(np.asarray(grilly.vmap(grilly.stop_gradient)(x)), x)
    np.testing.assert_allclose(np.asarray(grilly.jit(grilly.grad(f))(x)), x + 1, rtol=1e-6)


def test_jacrev_jacfwd_hessian_against_analytic(x64, rng):
    a = rng.uniform(-1, 1, (3, 4))
    x = rng.uniform(-1, 1, 4)
    f = lambda v: gnp.tanh(gnp.asarray(a) @ v)  # noqa: E731
    jac = (1 - np.tanh(a @ x) ** 2)[:, None] * a
    np.testing.assert_allclose(np.asarray(grilly.jacrev(f)(x)), jac, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(grilly.jacfwd(f)(x)), jac, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(grilly.hessian(f_cubic)(x)), np.diag(d2f_cubic(x)), rtol=1e-10,
                               atol=1e-12)
    quad = lambda v, m: v @ m @ v  # noqa: E731
    m = rng.uniform(-1, 1, (4, 4))
    np.testing.assert_allclose(np.asarray(grilly.hessian(quad)(x, m)), m + m.T, rtol=1e-10)
    jr = grilly.jacrev(lambda u, v: u * v, argnums=(0, 1))(x, 2 * x)
    np.testing.assert_allclose(np.asarray(jr[0]), np.diag(2 * x), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(jr[1]), np.diag(x), rtol=1e-10)
    jd = grilly.jacfwd(lambda p: {"s": gnp.sum(p["w"] * p["w"])})({"w": x})
    np.testing.assert_allclose(np.asarray(jd["s"]["w"]), 2 * x, rtol=1e-10)


def test_value_and_grad_argnums_and_has_aux(x64):
    def loss(w, b, x):
        pred = x @ w + b
        return gnp.sum(pred ** 2), {"pred": pred}

    w, b, x = np.array([1.0, -2.0]), 0.5, np.array([[1.0, 2.0], [3.0, 4.0]])
    (val, aux), (gw, gb) = grilly.value_and_grad(loss, argnums=(0, 1), has_aux=True)(w, b, x)
    pred = x @ w + b
    assert float(val) == pytest.approx(np.sum(pred ** 2))
    np.testing.assert_allclose(np.asarray(aux["pred"]), pred)
    np.testing.assert_allclose(np.asarray(gw), 2 * x.T @ pred, rtol=1e-12)
    assert float(gb) == pytest.approx(2 * pred.sum())
    g, aux2 = grilly.grad(loss, argnums=1, has_aux=True)(w, b, x)
    assert float(g) == pytest.approx(2 * pred.sum()) and "pred" in aux2
    with pytest.raises(TypeError, match="scalar float output"):
        grilly.grad(lambda v: v * 2)(np.ones(3))
    with pytest.raises(TypeError, match="float inputs"):
        grilly.grad(lambda v: gnp.sum(v * 1.0))(np.ones(3, np.int32))


def test_has_aux_returns_plain_values_from_every_transform():
    x = gnp.ones(2)
    _, _, aux = grilly.jvp(lambda v: (v * 2, {"s": gnp.sum(v)}), (x,), (x,), has_aux=True)
    assert isinstance(aux["s"], grilly.Array) and float(aux["s"]) == 2.0
    _, _, aux = grilly.vjp(lambda v: (v * 2, gnp.sum(v)), x, has_aux=True)
    assert isinstance(aux, grilly.Array) and float(aux) == 2.0
    for jac in (grilly.jacfwd, grilly.jacrev):
        j, aux = jac(lambda v: (v * 2, gnp.sum(v)), has_aux=True)(x)
        assert np.asarray(j).tolist() == [[2.0, 0.0], [0.0, 2.0]] and float(aux) == 2.0
    (_, aux), _ = grilly.value_and_grad(lambda v: (gnp.sum(v), v * 3), has_aux=True)(x)
    assert isinstance(aux, grilly.Array) and np.asarray(aux).tolist() == [3.0, 3.0]


def test_checkpoint_static_argnums(x64):
    def f(x, n):
        for _ in range(n):  # Python control flow on the static argument
            x = gnp.sin(x)
        return x

    for n in (1, 3):
        got = grilly.grad(lambda x, n=n: grilly.checkpoint(f, static_argnums=(1,))(x, n))(0.5)
        want = grilly.grad(lambda x, n=n: f(x, n))(0.5)
        assert float(got) == pytest.approx(float(want), rel=1e-12)
