"""Every differentiable primitive passes check_grads (forward and reverse, order 2 where cheap) in float64, and
its gradient is the same through jit (grad of jit and jit of grad)."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.lax as lax
import grilly.numpy as gnp
from grilly.test_util import check_grads


def u(lo, hi, *shape):
    return lambda rng: rng.uniform(lo, hi, size=shape)


def apart(*shape):
    """Values at least 0.1 apart (no ties for max/min/sort)."""
    def make(rng):
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.3 + rng.uniform(0, 0.1, n) - 0.15 * n).reshape(shape)

    return make


def far_from_int(*shape):
    return lambda rng: np.round(rng.uniform(-3, 3, size=shape)) + rng.uniform(0.2, 0.8, size=shape)


COVERED: set[str] = set()  # primitive names the rows differentiate


def G(name, fn, *makers, order=2, prims=None, tol=None):  # noqa: N802
    COVERED.update(prims or (name,))
    return pytest.param(fn, makers, order, tol, id=name)


UNARY = [(n, getattr(lax, n), lo, hi) for n, lo, hi in [
    ("exp", -2, 2), ("exp2", -2, 2), ("log", 0.5, 3), ("expm1", -1, 1), ("log1p", -0.5, 2), ("tanh", -2, 2),
    ("logistic", -3, 3), ("sin", -3, 3), ("cos", -3, 3), ("tan", -1, 1), ("asin", -0.8, 0.8), ("acos", -0.8, 0.8),
    ("atan", -3, 3), ("sinh", -2, 2), ("cosh", -2, 2), ("asinh", -3, 3), ("acosh", 1.2, 4), ("atanh", -0.8, 0.8),
    ("sqrt", 0.5, 3), ("rsqrt", 0.5, 3), ("cbrt", 0.5, 3), ("erf", -2, 2), ("erf_inv", -0.8, 0.8)]]

ROWS = [
    *[G(n, f, u(lo, hi, 5)) for n, f, lo, hi in UNARY],
    G("neg", lax.neg, u(-2, 2, 5)),
    G("abs", lax.abs, apart(5)),
    G("sign", lambda x: lax.sign(x) * x, apart(5), prims=("sign", "mul")),
    G("floor", lambda x: lax.floor(x) + x, far_from_int(5), prims=("floor",)),
    G("ceil", lambda x: lax.ceil(x) * x, far_from_int(5), prims=("ceil",)),
    G("round", lambda x: lax.round(x) + x * x, far_from_int(5), prims=("round",)),
    G("integer_pow", lambda x: lax.integer_pow(x, 3) + lax.integer_pow(x, -2), u(0.5, 2, 5)),
    G("add", lax.add, u(-2, 2, 4), u(-2, 2, 4)),
    G("sub", lax.sub, u(-2, 2, 4), u(-2, 2, 4)),
    G("mul", lax.mul, u(-2, 2, 4), u(-2, 2, 4)),
    G("div", lax.div, u(-2, 2, 4), u(0.5, 2, 4)),
    G("rem", lax.rem, far_from_int(4), lambda rng: np.ones(4) * 1.0),
    G("pow", lax.pow, u(0.5, 2, 4), u(-1.5, 1.5, 4)),
    G("max", lax.max, apart(4), lambda rng: apart(4)(rng) + 0.05),
    G("min", lax.min, apart(4), lambda rng: apart(4)(rng) + 0.05),
    G("atan2", lax.atan2, u(-2, 2, 4), u(0.5, 2, 4)),
    G("select_n", lambda a, b: lax.select_n(gnp.asarray(np.array([True, False, True, False])), a, b),
      u(-2, 2, 4), u(-2, 2, 4)),
    G("convert_element_type", lambda x: lax.convert_element_type(lax.convert_element_type(x, np.float32) * 2.0,
                                                                  np.float64), u(-2, 2, 3), order=1,
      tol=2e-3),  # a float32 round trip: finite differences see float32 rounding
    G("broadcast_in_dim", lambda x: lax.broadcast_in_dim(x, (2, 3, 4), (1, 2)), u(-2, 2, 3, 1)),
    G("reshape", lambda x: lax.reshape(x, (3, 2)) ** 2, u(-2, 2, 2, 3)),
    G("transpose", lambda x: lax.transpose(x, (2, 0, 1)) ** 2, u(-2, 2, 2, 3, 2)),
    G("rev", lambda x: lax.rev(x, (0, 1)) * x, u(-2, 2, 3, 2)),
    G("concatenate", lambda a, b: lax.concatenate([a, b, a * b], 1), u(-2, 2, 2, 3), u(-2, 2, 2, 3)),
    G("pad", lambda x, v: lax.pad(x, v, [(1, -1, 1), (2, 0, 0)]) ** 2, u(-2, 2, 3, 2), lambda rng: np.array(0.7)),
    G("slice", lambda x: lax.slice(x, (1, 0), (4, 3), (2, 2)) ** 2, u(-2, 2, 5, 3)),
    G("dynamic_slice", lambda x: lax.dynamic_slice(x, (gnp.asarray(np.int32(2)), 1), (2, 2)) ** 2, u(-2, 2, 4, 3)),
    G("dynamic_update_slice", lambda x, v: lax.dynamic_update_slice(x, v * v, (1, gnp.asarray(np.int32(5)))) ** 2,
      u(-2, 2, 4, 3), u(-2, 2, 2, 2)),
    G("reduce_sum", lambda x: lax.reduce_sum(x * x, (0, 2)), u(-2, 2, 2, 3, 2)),
    G("reduce_prod", lambda x: lax.reduce_prod(x, (1,)), u(0.5, 1.5, 3, 4)),
    G("reduce_prod_with_zero", lambda x: lax.reduce_prod(gnp.asarray(x).at[1, 2].set(0.0), (1,)), u(0.5, 1.5, 3, 4),
      prims=("reduce_prod",)),
    G("reduce_max", lambda x: lax.reduce_max(x, (0,)), apart(3, 4)),
    G("reduce_min", lambda x: lax.reduce_min(x, (1,)), apart(3, 4)),
    G("cumsum", lambda x: lax.cumsum(x, 1, reverse=True) ** 2, u(-2, 2, 2, 4)),
    G("cumprod", lambda x: lax.cumprod(x, 0), u(0.5, 1.5, 4, 2)),
    G("cummax", lambda x: lax.cummax(x, 0) ** 2, apart(5)),
    G("cummin", lambda x: lax.cummin(x, 0, reverse=True) ** 2, apart(5)),
    G("dot_general", lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
      u(-1, 1, 2, 3, 4), u(-1, 1, 2, 4, 5)),
    G("conv_general_dilated", lambda x, w: lax.conv_general_dilated(x, w, (2, 1), ((1, 0), (1, 1)), (1, 1), (1, 2)),
      u(-1, 1, 1, 2, 5, 5), u(-1, 1, 2, 2, 2, 2), order=1),
    G("conv_grouped_lhs_dilated", lambda x, w: lax.conv_general_dilated(x, w, (1,), ((1, 1),), (2,), (1,), 2),
      u(-1, 1, 2, 4, 4), u(-1, 1, 4, 2, 3), order=1, prims=("conv_general_dilated",)),
    G("gather", lambda x: lax.gather(x, gnp.asarray(np.array([[2, 0], [2, 9]], np.int32)), 1) ** 2,
      u(-2, 2, 2, 4)),
    G("scatter_add", lambda x, v: lax.scatter(x, gnp.asarray(np.array([1, 3, 1], np.int32)), v, 0, "add") ** 2,
      u(-2, 2, 4, 2), u(-2, 2, 3, 2), prims=("scatter",)),
    G("scatter_set", lambda x, v: lax.scatter(x, gnp.asarray(np.array([1, 3, 7], np.int32)), v, 0, "set") ** 2,
      u(-2, 2, 4, 2), u(-2, 2, 3, 2), prims=("scatter",)),
    G("scatter_mul", lambda x, v: lax.scatter(x, gnp.asarray(np.array([1, 3, 1], np.int32)), v, 0, "mul"),
      u(0.5, 2, 4), u(0.5, 2, 3), prims=("scatter",)),
    G("scatter_max", lambda x, v: lax.scatter(x, gnp.asarray(np.array([1, 3, 0], np.int32)), v, 0, "max"),
      apart(4), lambda rng: apart(3)(rng) + 0.05, prims=("scatter",)),
    G("scatter_min", lambda x, v: lax.scatter(x, gnp.asarray(np.array([2, 3, 0], np.int32)), v, 0, "min"),
      apart(4), lambda rng: apart(3)(rng) + 0.05, prims=("scatter",)),
    G("sort", lambda x: lax.sort(x, 1) * gnp.arange(4.0), apart(3, 4)),
    G("sort_descending", lambda x: lax.sort(x, 0, descending=True) ** 3, apart(4, 2), prims=("sort",)),
    G("top_k", lambda x: lax.top_k(x, 2)[0] ** 2, apart(2, 5)),
    G("jit_call", lambda x, y: grilly.jit(lambda a, b: gnp.sin(a) * b)(x, y), u(-2, 2, 3), u(-2, 2, 3)),
    G("checkpoint", lambda x: grilly.checkpoint(lambda a: gnp.sin(gnp.sin(a)) * a)(x), u(-2, 2, 3)),
    G("scan", lambda c, xs: lax.scan(lambda c, x: (c * gnp.sin(x) + x, c * x), c, xs), u(-1, 1, 2), u(-1, 1, 4, 2)),
    G("cond_true", lambda x: lax.cond(True, lambda a: gnp.sin(a) * a, lambda a: a, x), u(-2, 2, 3),
      prims=("cond",)),
    G("cond_false", lambda x: lax.cond(gnp.asarray(0), lambda a: a, lambda a: gnp.exp(a) * a, x), u(-1, 1, 3),
      prims=("cond",)),
    G("switch", lambda x: lax.switch(2, [lambda a: a, lambda a: a * 2.0, lambda a: gnp.cos(a) * a], x),
      u(-1, 1, 3), prims=("cond",)),
    G("fori_loop", lambda x: lax.fori_loop(0, 3, lambda i, c: c * gnp.sin(c) + 1.0, x), u(-1, 1, 3),
      prims=("scan",)),
]


def _args(makers, rng):
    return [np.asarray(m(rng), np.float64) for m in makers]


@pytest.mark.parametrize("fn,makers,order,tol", ROWS)
def test_check_grads(fn, makers, order, tol, x64, rng):
    args = _args(makers, rng)
    check_grads(fn, args, order=order, modes=("fwd", "rev"), atol=tol, rtol=tol)


def _scalar_loss(fn, weights_rng):
    def loss(*args):
        outs = grilly.tree.leaves(fn(*args))
        total = 0.0
        for k, o in enumerate(outs):
            w = np.random.default_rng(k).standard_normal(o.shape)
            total = total + gnp.sum(o * gnp.asarray(w))
        return total

    return loss


@pytest.mark.parametrize("fn,makers,order,tol", ROWS)
def test_grad_through_jit(fn, makers, order, tol, x64, rng):
    args = _args(makers, rng)
    loss = _scalar_loss(fn, rng)
    argnums = tuple(range(len(args)))
    want = grilly.grad(loss, argnums=argnums)(*args)
    for name, g in (("grad(jit(f))", grilly.grad(grilly.jit(loss), argnums=argnums)),
                    ("jit(grad(f))", grilly.jit(grilly.grad(loss, argnums=argnums)))):
        got = g(*args)
        for a, b in zip(got, want):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12, err_msg=name)


def test_every_differentiable_core_primitive_has_a_row():
    from test_rules_complete import PRIMS, _is_core

    from grilly.core import primitive as P

    # while: below; custom_*, stop_gradient: test_compose.py (finite differences cannot see a stopped gradient)
    covered = COVERED | {"while", "custom_vjp_call", "custom_jvp_call", "stop_gradient"}
    missing = sorted(p.name for p in PRIMS if _is_core(p) and p not in P.nondiff and p.name not in covered)
    assert not missing, f"differentiable core primitives without a check_grads row: {missing}"


def test_while_loop_forward_mode(x64, rng):
    """while_loop supports jvp (its trip count is data-dependent, so reverse mode raises)."""
    x = rng.uniform(0.5, 1.0, 3)

    def f(x):
        return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * gnp.sin(c[1]) + 0.5), (0, x))[1]

    check_grads(f, (x,), order=2, modes=("fwd",))
    with pytest.raises(grilly.TransformError, match="while_loop.*scan"):
        grilly.grad(lambda x: gnp.sum(f(x)))(x)


def test_grads_in_float32_default_tolerance(rng):
    """check_grads also runs on the default backend in float32, with float32 tolerances."""
    x = rng.uniform(-1, 1, 4).astype(np.float32)
    check_grads(lambda v: gnp.tanh(v) * v, (x,), order=1)


def test_check_grads_detects_a_wrong_rule(x64):
    @grilly.custom_vjp
    def f(x):
        return gnp.sin(x)

    f.defvjp(lambda x: (gnp.sin(x), x), lambda x, g: (g * 2.0 * gnp.cos(x),))  # twice the true derivative
    with pytest.raises(AssertionError):
        check_grads(f, (np.array([0.3, 0.5]),), order=1, modes=("rev",))


@pytest.mark.skipif(grilly.default_backend() != "vulkan", reason="compares the Vulkan VJP with the NumPy VJP")
@pytest.mark.parametrize("fn,makers,order,tol", ROWS)
def test_vulkan_vjp_matches_numpy(fn, makers, order, tol, rng):
    from core_helpers import default_backend

    args = [a.astype(np.float32) for a in _args(makers, rng)]

    def pullback(backend):
        with default_backend(backend):
            xs = [grilly.device_put(gnp.asarray(a), backend) for a in args]
            out, pull = grilly.vjp(fn, *xs)
            cts = grilly.tree.map(lambda o: gnp.asarray(np.random.default_rng(7).standard_normal(o.shape)
                                                        .astype(np.float32)), out)
            return [np.asarray(g) for g in pull(cts)]

    for a, b in zip(pullback("vulkan"), pullback("numpy")):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fn,makers,order,tol", ROWS)
def test_vmap_of_grad_matches_loop(fn, makers, order, tol, x64):
    """Batching every VJP rule: vmap(grad(f)) over two argument sets equals grad(f) on each."""
    loss = _scalar_loss(fn, None)
    argnums = tuple(range(len(makers)))
    sets = [_args(makers, np.random.default_rng(s)) for s in (11, 12)]
    stacked = [np.stack([s[k] for s in sets]) for k in range(len(makers))]
    got = grilly.vmap(grilly.grad(loss, argnums=argnums))(*stacked)
    for i, s in enumerate(sets):
        want = grilly.grad(loss, argnums=argnums)(*s)
        for a, b in zip(got, want):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn,makers,order,tol", ROWS)
def test_jvp_of_vmap_matches_loop(fn, makers, order, tol, x64):
    sets = [_args(makers, np.random.default_rng(s)) for s in (21, 22)]
    tans = [_args(makers, np.random.default_rng(s)) for s in (31, 32)]
    stack = lambda groups: [np.stack([g[k] for g in groups]) for k in range(len(makers))]  # noqa: E731
    _, got = grilly.jvp(grilly.vmap(fn), stack(sets), stack(tans))
    for i in range(2):
        _, want = grilly.jvp(fn, sets[i], tans[i])
        for a, b in zip(grilly.tree.leaves(got), grilly.tree.leaves(want)):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-10, atol=1e-12)
