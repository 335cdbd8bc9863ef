"""grilly.optim: each transformation against a hand-written NumPy update for a few steps, convergence on a
parabola and on the Rosenbrock function, schedules, and optimizers/states as pytrees under jit."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
import grilly.optim as optim
from grilly import tree

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.3, 0.2, 1.0]), np.array([1.5, 0.1, -0.4])]
P0 = np.array([1.0, -2.0, 0.5])


def np_steps(kind, **hp):
    """The updated parameters after each of the GRADS steps, by the textbook formulas."""
    p, m, v, t, out = P0.copy(), np.zeros(3), np.zeros(3), 0, []
    for g in GRADS:
        t += 1
        if kind == "sgd":
            u = hp["lr"] * g
        elif kind == "momentum":
            m = g + hp["mu"] * m
            u = hp["lr"] * ((g + hp["mu"] * m) if hp.get("nesterov") else m)
        elif kind in ("adam", "adamw"):
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            u = (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
            u = hp["lr"] * (u + hp.get("wd", 0.0) * p)
        elif kind == "rmsprop":
            v = 0.9 * v + 0.1 * g * g
            u = hp["lr"] * g / (np.sqrt(v) + 1e-8)
        elif kind == "adagrad":
            v = v + g * g
            u = hp["lr"] * g / (np.sqrt(v) + 1e-10)
        elif kind == "nlms":
            u = hp["mu"] * g / (hp["eps"] + (g * g).sum())
        elif kind == "natural":
            v = 0.9 * v + 0.1 * g * g
            u = hp["lr"] * g / (v + hp["damping"])
        elif kind == "clip_sgd":
            n = np.sqrt((g * g).sum())
            u = hp["lr"] * g * min(1.0, hp["max_norm"] / n)
        p = p - u
        out.append(p.copy())
    return out


CASES = [
    ("sgd", optim.sgd(0.1), {"lr": 0.1}),
    ("momentum", optim.sgd(0.1, momentum=0.9), {"lr": 0.1, "mu": 0.9}),
    ("nesterov", optim.sgd(0.1, momentum=0.9, nesterov=True), {"lr": 0.1, "mu": 0.9, "nesterov": True}),
    ("adam", optim.adam(0.01), {"lr": 0.01}),
    ("adamw", optim.adamw(0.01, weight_decay=0.1), {"lr": 0.01, "wd": 0.1}),
    ("rmsprop", optim.rmsprop(0.01), {"lr": 0.01}),
    ("adagrad", optim.adagrad(0.1), {"lr": 0.1}),
    ("nlms", optim.nlms(0.5, eps=1.0), {"mu": 0.5, "eps": 1.0}),
    ("natural", optim.natural_gradient(0.01, damping=0.5), {"lr": 0.01, "damping": 0.5}),
    ("clip_sgd", optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1)), {"lr": 0.1, "max_norm": 1.0}),
]


@pytest.mark.parametrize("name,opt,hp", CASES, ids=[c[0] for c in CASES])
def test_matches_hand_computed_updates(name, opt, hp):
    kind = "momentum" if name == "nesterov" else name
    want = np_steps(kind, **hp)
    params = {"w": gnp.asarray(P0.astype(np.float32))}
    state = opt.init(params)
    for g, w in zip(GRADS, want):
        updates, state = opt.update({"w": gnp.asarray(g.astype(np.float32))}, state, params)
        params = optim.apply_updates(params, updates)
        np.testing.assert_allclose(np.asarray(params["w"]), w, rtol=1e-5, atol=1e-6, err_msg=name)
        assert all(isinstance(x, grilly.Array) for x in tree.leaves(state))


def _minimize(opt, f, x0, steps):
    x = gnp.asarray(np.asarray(x0, np.float32))

    @grilly.jit
    def step(x, state, opt):  # the optimizer is an argument: its float hyperparameters are traced leaves
        updates, state = opt.update(grilly.grad(f)(x), state, x)
        return optim.apply_updates(x, updates), state

    state = opt.init(x)
    for _ in range(steps):
        x, state = step(x, state, opt)
    assert len(step._cache) == 1
    return np.asarray(x)


def parabola(x):
    return gnp.sum((x - 3.0) ** 2)


PARABOLA = [
    ("sgd", optim.sgd(0.1)), ("momentum", optim.sgd(0.05, momentum=0.9)),
    ("nesterov", optim.sgd(0.05, momentum=0.9, nesterov=True)), ("adam", optim.adam(0.2)),
    ("adamw", optim.adamw(0.2, weight_decay=0.0)), ("rmsprop", optim.rmsprop(0.05)), ("adagrad", optim.adagrad(1.0)),
    ("nlms", optim.nlms(0.5, eps=1.0)), ("natural", optim.natural_gradient(0.2, damping=1.0)),
    ("clipped_adam", optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.2))),
]


@pytest.mark.parametrize("name,opt", PARABOLA, ids=[p[0] for p in PARABOLA])
def test_converges_on_parabola(name, opt):
    x = _minimize(opt, parabola, [0.0, -1.0, 5.0], 150)
    np.testing.assert_allclose(x, 3.0, atol=0.05, err_msg=name)


def rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


ROSENBROCK = [  # (name, optimizer, start, steps)
    ("momentum", optim.sgd(3e-3, momentum=0.9), [0.0, 0.0], 300),
    ("nesterov", optim.sgd(1e-3, momentum=0.9, nesterov=True), [0.0, 0.0], 800),
    ("adam", optim.adam(0.1), [0.0, 0.0], 200),
    ("adamw", optim.adamw(0.1, weight_decay=1e-4), [0.0, 0.0], 200),
    ("rmsprop_momentum", optim.rmsprop(1e-3, momentum=0.9), [0.0, 0.0], 200),
]


@pytest.mark.parametrize("name,opt,x0,steps", ROSENBROCK, ids=[r[0] for r in ROSENBROCK])
def test_converges_on_rosenbrock(name, opt, x0, steps):
    np.testing.assert_allclose(_minimize(opt, rosenbrock, x0, steps), [1.0, 1.0], atol=0.03, err_msg=name)


VALLEY = [("adagrad", optim.adagrad(0.1)), ("rmsprop", optim.rmsprop(0.01)), ("nlms", optim.nlms(0.03, eps=0.1)),
          ("natural", optim.natural_gradient(0.01, damping=0.1))]


@pytest.mark.parametrize("name,opt", VALLEY, ids=[v[0] for v in VALLEY])
def test_descends_rosenbrock_valley(name, opt):
    # without momentum these follow the curved valley slowly: 300 steps bring f from 1 to below 0.1
    x = _minimize(opt, rosenbrock, [0.0, 0.0], 300)
    assert float(rosenbrock(x)) < 0.1


def test_schedules():
    n = np.array([0, 3, 10, 25, 100])
    ev = lambda s: np.array([float(s(int(c))) for c in n])  # noqa: E731
    np.testing.assert_allclose(ev(optim.constant(0.3)), 0.3)
    np.testing.assert_allclose(ev(optim.linear(1.0, 0.0, 20)), np.clip(1 - n / 20, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(ev(optim.exponential_decay(2.0, 10, 0.5)), 2.0 * 0.5 ** (n / 10), rtol=1e-5)
    np.testing.assert_allclose(ev(optim.exponential_decay(2.0, 10, 0.5, staircase=True)),
                               2.0 * 0.5 ** np.floor(n / 10), rtol=1e-5)
    np.testing.assert_allclose(ev(optim.cosine_decay(1.0, 50, alpha=0.1)),
                               0.9 * 0.5 * (1 + np.cos(np.pi * np.minimum(n, 50) / 50)) + 0.1, rtol=1e-5, atol=1e-6)
    warm = np.where(n < 10, 0.1 + 0.9 * n / 10,
                    0.5 * (1 + np.cos(np.pi * np.clip((n - 10) / 40, 0, 1))))
    np.testing.assert_allclose(ev(optim.warmup_cosine(0.1, 1.0, 10, 50)), warm, rtol=1e-5, atol=1e-6)
    s = optim.cosine_decay(1.0, 50)  # array counts, as inside jit
    np.testing.assert_allclose(float(s(gnp.asarray(np.int32(25)))), 0.5, atol=1e-6)


def test_schedule_as_learning_rate_under_jit():
    opt = optim.sgd(optim.linear(1.0, 0.0, 4))
    x = _minimize(opt, lambda x: gnp.sum(x), [0.0], 6)  # lr 1, .75, .5, .25, 0, 0 and gradient 1
    np.testing.assert_allclose(x, [-2.5], rtol=1e-6)


def test_optimizer_is_a_pytree_and_states_jit():
    a, b = optim.adam(0.1), optim.adam(0.2)
    assert tree.structure(a) == tree.structure(b)  # a new learning rate does not retrace
    assert sorted(float(v) for v in tree.leaves(a)) == sorted([0.9, 0.999, 1e-8, 0.0, 0.1])
    params = {"w": gnp.ones(3), "b": gnp.zeros(())}
    state = a.init(params)
    leaves = tree.leaves(state)
    assert leaves and all(isinstance(x, grilly.Array) for x in leaves)

    @grilly.jit
    def step(params, state, opt):
        updates, state = opt.update(tree.map(gnp.ones_like, params), state, params)
        return optim.apply_updates(params, updates), state

    p1, _ = step(params, state, a)
    p2, _ = step(params, state, b)
    assert len(step._cache) == 1
    np.testing.assert_allclose(np.asarray(p1["w"]), 0.9, rtol=1e-5)  # Adam's first step is lr * sign(g)
    np.testing.assert_allclose(np.asarray(p2["w"]), 0.8, rtol=1e-5)
    init, update = optim.sgd(1.0)  # optax-style unpacking
    assert update(gnp.ones(2), init(None))[0].tolist() == [-1.0, -1.0]


def test_custom_transformation_and_errors():
    def negate(updates, state, params=None):
        return tree.map(lambda g: -g, updates), state

    opt = optim.GradientTransformation(lambda params: optim.EmptyState(), negate)
    u, _ = optim.chain(opt, optim.scale(2.0)).update(gnp.asarray([1.0]), (optim.EmptyState(),) * 2)
    assert u.tolist() == [-2.0]
    with pytest.raises(ValueError, match="params"):
        optim.adamw(0.1).update(gnp.ones(2), optim.adamw(0.1).init(gnp.ones(2)))
