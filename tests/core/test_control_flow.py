"""scan, while_loop, fori_loop, cond and switch against Python loops and branches, eager and under jit."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.lax as lax
import grilly.numpy as gnp

WRAPS = [pytest.param(lambda f: f, id="eager"), pytest.param(grilly.jit, id="jit")]


def _py_scan(f, init, xs, reverse=False):
    carry, ys = init, []
    order = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
    for i in order:
        carry, y = f(carry, xs[i])
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, np.stack(ys) if ys else np.zeros((0,))


def _step_np(c, x):
    new = c * 0.5 + np.sin(x)
    return new, new * x


def _step(c, x):
    new = c * 0.5 + gnp.sin(x)
    return new, new * x


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("length", [1, 6])
def test_scan_matches_python_loop(wrap, reverse, length, rng):
    init = rng.standard_normal(3).astype(np.float32)
    xs = rng.standard_normal((length, 3)).astype(np.float32)
    c, ys = wrap(lambda i, x: lax.scan(_step, i, x, reverse=reverse))(init, xs)
    wc, wys = _py_scan(_step_np, init, xs, reverse)
    np.testing.assert_allclose(np.asarray(c), wc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ys), wys, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("wrap", WRAPS)
def test_scan_pytrees_length_and_none_outputs(wrap):
    def body(carry, x):
        a, (b, n) = carry["a"], carry["rest"]
        return {"a": a + x["u"], "rest": (b * x["v"], n + 1)}, None

    init = {"a": gnp.zeros(2), "rest": (gnp.ones(2), 0)}
    xs = {"u": gnp.ones((4, 2)), "v": gnp.full((4, 2), 2.0)}
    carry, ys = wrap(lambda i, x: lax.scan(body, i, x))(init, xs)
    assert ys is None
    assert np.asarray(carry["a"]).tolist() == [4.0, 4.0]
    assert np.asarray(carry["rest"][0]).tolist() == [16.0, 16.0] and int(carry["rest"][1]) == 4
    # no xs: the number of steps comes from length
    c, ys = wrap(lambda c0: lax.scan(lambda c, _: (c * 2, c), c0, None, length=5))(gnp.ones(()))
    assert float(c) == 32.0 and np.asarray(ys).tolist() == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_scan_zero_length_and_unroll():
    c, ys = lax.scan(lambda c, x: (c + x, c * x), gnp.ones(2), gnp.ones((0, 2)))
    assert np.asarray(c).tolist() == [1.0, 1.0] and ys.shape == (0, 2)
    xs = gnp.arange(10.0)
    a = lax.scan(lambda c, x: (c + x, c), 0.0, xs, unroll=3)
    b = lax.scan(lambda c, x: (c + x, c), 0.0, xs)
    assert float(a[0]) == float(b[0]) == 45.0
    assert np.asarray(a[1]).tolist() == np.asarray(b[1]).tolist()


def test_scan_errors_name_the_problem():
    with pytest.raises(grilly.GrillyError, match="carry.*f32\\[2\\].*f32\\[3\\]|f32\\[2\\].*f32\\[3\\]"):
        lax.scan(lambda c, x: (gnp.concatenate([c, x[:1]]), x), gnp.ones(2), gnp.ones((3, 2)))
    with pytest.raises(grilly.ShapeError, match="steps"):
        lax.scan(lambda c, x: (c, x), 0.0, (gnp.ones(3), gnp.ones(4)))
    with pytest.raises(grilly.GrillyError, match="pair"):
        lax.scan(lambda c, x: c, 0.0, gnp.ones(3))


@pytest.mark.parametrize("wrap", WRAPS)
def test_while_loop_matches_python(wrap, rng):
    x0 = rng.uniform(1, 2, 3).astype(np.float32)

    def f(x):
        return lax.while_loop(lambda c: gnp.sum(c[1]) < 100.0, lambda c: (c[0] + 1, c[1] * 1.7), (0, x))

    n, v = wrap(f)(x0)
    k, w = 0, x0.copy()
    while w.sum() < 100:
        k, w = k + 1, (w * np.float32(1.7)).astype(np.float32)
    assert int(n) == k
    np.testing.assert_allclose(np.asarray(v), w, rtol=1e-5)


def test_while_loop_zero_iterations_and_errors():
    assert int(lax.while_loop(lambda i: i < 0, lambda i: i + 1, 5)) == 5
    with pytest.raises(grilly.GrillyError, match="boolean scalar"):
        lax.while_loop(lambda i: i, lambda i: i + 1, 5)
    with pytest.raises(grilly.GrillyError, match="shapes/dtypes"):
        lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 1.5), (0, 1))


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("bounds", [(0, 5), (2, 7), (3, 3), (5, 2)])
def test_fori_loop_static_and_traced_bounds(wrap, bounds):
    lo, hi = bounds
    want = sum(range(lo, hi)) * 1.0 + 1.0
    static = wrap(lambda x: lax.fori_loop(lo, hi, lambda i, c: c + i, x))(1.0)
    traced = wrap(lambda a, b, x: lax.fori_loop(a, b, lambda i, c: c + i, x))(lo, hi, 1.0)
    assert float(static) == want and float(traced) == want


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("pred", [True, False])
def test_cond_both_branches(wrap, pred, rng):
    x = rng.standard_normal(4).astype(np.float32)
    y = rng.standard_normal(4).astype(np.float32)
    out = wrap(lambda p, a, b: lax.cond(p, lambda u, v: (u * v, u + 1.0), lambda u, v: (u - v, v * 2.0), a, b))(
        pred, x, y)
    want = (x * y, x + 1) if pred else (x - y, y * 2)
    for o, w in zip(out, want):
        np.testing.assert_allclose(np.asarray(o), w, rtol=1e-6)


@pytest.mark.parametrize("wrap", WRAPS)
def test_switch_clamps_the_index(wrap):
    branches = [lambda a: a + 1, lambda a: a * 10, lambda a: -a]
    f = wrap(lambda i, a: lax.switch(i, branches, a))
    got = [float(f(i, 2.0)) for i in (-3, 0, 1, 2, 9)]
    assert got == [3.0, 3.0, 20.0, -2.0, -2.0]


def test_cond_errors_name_the_problem():
    with pytest.raises(grilly.GrillyError, match="different shapes/dtypes"):
        lax.cond(True, lambda a: a, lambda a: a[:1], gnp.ones(2))
    with pytest.raises(grilly.GrillyError, match="different structures"):
        lax.cond(True, lambda a: (a, a), lambda a: a, gnp.ones(2))
    with pytest.raises(grilly.GrillyError, match="scalar"):
        lax.cond(gnp.ones(2) > 0, lambda a: a, lambda a: a, 1.0)


def test_cond_branch_closing_over_outer_values(rng):
    w = gnp.asarray(rng.standard_normal(3).astype(np.float32))
    f = grilly.jit(lambda p, x: lax.cond(p, lambda a: a * w, lambda a: a + w, x))
    x = np.ones(3, np.float32)
    np.testing.assert_allclose(np.asarray(f(True, x)), np.asarray(w), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(f(False, x)), 1 + np.asarray(w), rtol=1e-6)
