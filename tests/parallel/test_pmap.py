"""pmap, collectives and placement on two logical devices (one physical GPU or the CPU)."""

import numpy as np
import pytest

import grilly
import grilly.lax as lax
import grilly.numpy as gnp
from grilly.parallel import set_logical_devices


@pytest.fixture(autouse=True, scope="module")
def two_devices():
    set_logical_devices(2)
    yield
    set_logical_devices(1)


def test_two_logical_devices_listed():
    devs = grilly.devices()
    assert len(devs) == 2 and devs[0].backend is not devs[1].backend
    assert all(d.platform == grilly.default_backend() for d in devs)


def test_device_put_places_and_ops_follow(rng):
    d1 = grilly.devices()[1]
    x = grilly.device_put(gnp.asarray(rng.standard_normal(5).astype(np.float32)), d1)
    y = x * 2.0 + 1.0  # the Python scalars follow the committed operand
    assert y._backend is d1.backend
    np.testing.assert_allclose(np.asarray(y), np.asarray(x) * 2 + 1, rtol=1e-6)


def test_jit_follows_committed_arguments(rng):
    """Constants a jitted function makes from Python scalars follow its committed arguments, as eager ops do."""
    d1 = grilly.devices()[1]
    x = grilly.device_put(gnp.asarray(rng.standard_normal((3, 4)).astype(np.float32)), d1)
    f = grilly.jit(lambda v: lax.scan(lambda c, r: (c * 0.5 + r, c - 1.0), v[0] * 0.0, v)[1] * 2.0)
    y = f(x)
    assert y._backend is d1.backend
    want, c = [], np.zeros(4, np.float32)
    for r in np.asarray(x):
        want.append((c - 1.0) * 2.0)
        c = c * 0.5 + r
    np.testing.assert_allclose(np.asarray(y), np.stack(want), rtol=1e-6)


def test_mixing_committed_devices_is_an_error():
    a = grilly.device_put(gnp.ones(3), grilly.devices()[0])
    b = grilly.device_put(gnp.ones(3), grilly.devices()[1])
    with pytest.raises(grilly.BackendError, match="different devices"):
        a + b
    with pytest.raises(grilly.BackendError, match="different devices"):
        grilly.jit(lambda p, q: p + q)(a, b)


@pytest.mark.parametrize("name,ref", [("psum", np.sum), ("pmax", np.max), ("pmin", np.min)])
def test_reducing_collectives_match_numpy(rng, name, ref):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    out = grilly.pmap(lambda v: getattr(lax, name)(v, "i"), axis_name="i")(x)
    want = np.broadcast_to(ref(x, axis=0), x.shape)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6)


def test_pmean_all_gather_axis_index(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(grilly.pmap(lambda v: lax.pmean(v, "i"), axis_name="i")(x)),
                               np.broadcast_to(x.mean(0), x.shape), rtol=1e-6)
    g = grilly.pmap(lambda v: lax.all_gather(v, "i"), axis_name="i")(x)
    np.testing.assert_allclose(np.asarray(g), np.stack([x, x]), rtol=1e-6)
    idx = grilly.pmap(lambda v: v * lax.axis_index("i"), axis_name="i")(np.ones((2, 3), np.float32))
    np.testing.assert_allclose(np.asarray(idx), [[0, 0, 0], [1, 1, 1]])


def test_collectives_under_vmap_with_axis_name(rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    out = grilly.vmap(lambda v: v - lax.pmean(v, "b"), axis_name="b")(x)
    np.testing.assert_allclose(np.asarray(out), x - x.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grilly.vmap(lambda v: lax.axis_index("b"), axis_name="b")(x)), range(5))


def test_pmap_equals_vmap(rng):
    x = rng.standard_normal((2, 6)).astype(np.float32)

    def f(v):
        return gnp.tanh(v) * lax.psum(gnp.sum(v), "i")

    np.testing.assert_allclose(np.asarray(grilly.pmap(f, axis_name="i")(x)),
                               np.asarray(grilly.vmap(f, axis_name="i")(x)), rtol=1e-5)


def test_data_parallel_training_equals_single_device(rng):
    """pmap'd SGD with pmean'd gradients gives the parameters of full-batch training on the concatenated batch."""
    x = rng.standard_normal((2, 16, 4)).astype(np.float32)
    y = rng.standard_normal((2, 16, 2)).astype(np.float32)
    params0 = {"w": rng.standard_normal((4, 2)).astype(np.float32) * 0.1, "b": np.zeros(2, np.float32)}

    def loss(p, xb, yb):
        return gnp.mean((gnp.tanh(xb @ p["w"] + p["b"]) - yb) ** 2)

    def step(p, xb, yb):
        g = lax.pmean(grilly.grad(loss)(p, xb, yb), "i")
        return grilly.tree.map(lambda a, b: a - 0.5 * b, p, g)

    pstep = grilly.pmap(step, axis_name="i", in_axes=(None, 0, 0), out_axes=None)
    p = params0
    for _ in range(4):
        p = pstep(p, x, y)
    q = grilly.tree.map(gnp.asarray, params0)
    xf, yf = gnp.asarray(x.reshape(32, 4)), gnp.asarray(y.reshape(32, 2))
    for _ in range(4):
        q = grilly.tree.map(lambda a, b: a - 0.5 * b, q, grilly.grad(loss)(q, xf, yf))
    for k in ("w", "b"):
        np.testing.assert_allclose(np.asarray(p[k]), np.asarray(q[k]), rtol=1e-5, atol=1e-6)


def test_unbound_axis_and_too_many_devices():
    with pytest.raises(grilly.GrillyError, match="not bound"):
        lax.psum(gnp.ones(2), "nope")
    with pytest.raises(grilly.GrillyError, match="device"):
        grilly.pmap(lambda v: v, axis_name="i")(np.ones((3, 2), np.float32))
