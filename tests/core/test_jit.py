"""jit: the trace cache, static arguments, pytrees, the concretization error, and jit inside other transforms.
(jit against eager for every primitive is test_prims_forward.py, parametrized over the two.)"""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.lax as lax
import grilly.numpy as gnp


def counting(fn):
    """``fn`` plus a counter of how many times Python ran it (= how many times jit traced it)."""
    calls = []

    def wrapped(*a, **k):
        calls.append(1)
        return fn(*a, **k)

    wrapped.count = lambda: len(calls)
    return wrapped


def test_cache_does_not_retrace_same_signature(rng):
    f = counting(lambda x, y: gnp.tanh(x) @ y)
    jf = grilly.jit(f)
    x, y = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    first = jf(x, y)
    assert f.count() == 1
    second = jf(gnp.asarray(x * 2), gnp.asarray(y))
    assert f.count() == 1, "a second call with the same shapes and dtypes must not retrace"
    np.testing.assert_allclose(np.asarray(first), np.tanh(x) @ y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(second), np.tanh(x * 2) @ y, rtol=1e-5, atol=1e-6)


def test_cache_retraces_on_new_shape_dtype_or_structure():
    f = counting(lambda x: x * 2)
    jf = grilly.jit(f)
    jf(gnp.ones(3))
    jf(gnp.ones(4))
    assert f.count() == 2
    jf(gnp.ones(4, dtype=gnp.int32))
    assert f.count() == 3
    jf(gnp.ones(3))
    assert f.count() == 3
    g = counting(lambda t: t[0] + t[1])
    jg = grilly.jit(g)
    jg((gnp.ones(2), gnp.ones(2)))
    jg([gnp.ones(2), gnp.ones(2)])  # a list is another structure than a tuple
    assert g.count() == 2


def test_python_scalars_are_traced_not_baked_in():
    f = counting(lambda x, s: x * s)
    jf = grilly.jit(f)
    assert np.asarray(jf(gnp.ones(2), 2.0)).tolist() == [2.0, 2.0]
    assert np.asarray(jf(gnp.ones(2), 3.0)).tolist() == [3.0, 3.0]
    assert f.count() == 1


def test_static_argnums():
    f = counting(lambda x, n, mode: x * n if mode == "mul" else x + n)
    jf = grilly.jit(f, static_argnums=(1, 2))
    x = gnp.arange(3.0)
    assert np.asarray(jf(x, 2, "mul")).tolist() == [0.0, 2.0, 4.0]
    assert np.asarray(jf(x, 2, "add")).tolist() == [2.0, 3.0, 4.0]
    assert np.asarray(jf(x, 2, "mul")).tolist() == [0.0, 2.0, 4.0]
    assert f.count() == 2, "one trace per distinct static value"
    jf(x, 3, "mul")
    assert f.count() == 3


def test_static_argnames_by_keyword_and_position():
    def f(x, *, reps):
        out = x
        for _ in range(reps):  # Python control flow on a static value
            out = out * 2.0
        return out

    cf = counting(f)
    jf = grilly.jit(cf, static_argnames="reps")
    assert np.asarray(jf(gnp.ones(2), reps=3)).tolist() == [8.0, 8.0]
    assert np.asarray(jf(gnp.ones(2), reps=3)).tolist() == [8.0, 8.0]
    assert cf.count() == 1
    g = grilly.jit(lambda x, k: x[:k], static_argnames=("k",))
    assert np.asarray(g(gnp.arange(5), 2)).tolist() == [0, 1]  # a static name passed by position
    assert np.asarray(g(gnp.arange(5), k=3)).tolist() == [0, 1, 2]


def test_unhashable_static_argument_error():
    jf = grilly.jit(lambda x, cfg: x, static_argnums=1)
    with pytest.raises(TypeError, match="hashable"):
        jf(gnp.ones(2), [1, 2])


def test_concretization_error_mentions_static_argnums():
    def f(x, n):
        if n > 0:  # n is traced under jit
            return x
        return -x

    with pytest.raises(grilly.ConcretizationError) as info:
        grilly.jit(f)(gnp.ones(2), 3)
    msg = str(info.value)
    assert "static_argnums" in msg and "bool[]" in msg and "lax.cond" in msg
    assert np.asarray(grilly.jit(f, static_argnums=1)(gnp.ones(2), 3)).tolist() == [1.0, 1.0]
    with pytest.raises(grilly.ConcretizationError, match="static_argnums"):
        grilly.jit(lambda x: gnp.zeros(int(x)))(3)
    with pytest.raises(grilly.ConcretizationError, match="Conversion to NumPy"):
        grilly.jit(lambda x: np.asarray(x))(gnp.ones(2))


def test_pytrees_kwargs_and_constants(rng):
    w = rng.standard_normal((3, 3)).astype(np.float32)
    closed = gnp.asarray(w)

    @grilly.jit
    def f(params, x, scale=1.0):
        return {"out": (x @ params["w"] + params["b"]) * scale @ closed, "n": gnp.sum(x)}

    p = {"w": gnp.asarray(w), "b": gnp.ones(3)}
    x = rng.standard_normal((2, 3)).astype(np.float32)
    got = f(p, x, scale=2.0)
    np.testing.assert_allclose(np.asarray(got["out"]), ((x @ w + 1) * 2) @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(got["n"]), x.sum(), rtol=1e-5)


def test_jit_outputs_are_concrete_arrays_and_constants_work():
    out = grilly.jit(lambda: gnp.arange(3.0) * 2)()
    assert isinstance(out, grilly.Array) and out.tolist() == [0.0, 2.0, 4.0]
    x = grilly.jit(lambda a: (a, 1.0, None))(gnp.ones(2))
    assert x[2] is None and float(x[1]) == 1.0


def test_nested_jit_and_jit_under_transforms(rng):
    inner = grilly.jit(lambda a: gnp.sin(a) * a)
    outer = grilly.jit(lambda a: inner(a) + inner(a * 2))
    x = rng.standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(np.asarray(outer(x)), np.sin(x) * x + np.sin(2 * x) * 2 * x, rtol=1e-5, atol=1e-6)
    g = grilly.grad(lambda a: gnp.sum(inner(a)))(x)
    np.testing.assert_allclose(np.asarray(g), np.cos(x) * x + np.sin(x), rtol=1e-5, atol=1e-6)
    v = grilly.vmap(inner)(x.reshape(2, 2))
    np.testing.assert_allclose(np.asarray(v), (np.sin(x) * x).reshape(2, 2), rtol=1e-5, atol=1e-6)
    _, t = grilly.jvp(inner, (x,), (np.ones(4, np.float32),))
    np.testing.assert_allclose(np.asarray(t), np.cos(x) * x + np.sin(x), rtol=1e-5, atol=1e-6)


def test_jit_of_control_flow_and_closure_over_tracers(rng):
    @grilly.jit
    def f(x, n):
        def body(i, c):
            return c * x + i
        return lax.fori_loop(0, n, body, gnp.zeros_like(x))

    x = rng.uniform(0.5, 1, 3).astype(np.float32)
    want = np.zeros(3, np.float32)
    for i in range(4):
        want = want * x + i
    np.testing.assert_allclose(np.asarray(f(x, 4)), want, rtol=1e-5)


def test_make_jaxpr_prints_the_program():
    text = str(grilly.make_jaxpr(lambda x, y: gnp.sin(x) * y + 1.0)(gnp.ones(3), gnp.ones(3)))
    assert "sin" in text and "mul" in text and "add" in text and "f32[3]" in text


def test_jit_preserves_dtype_and_python_side_effects_once():
    seen = []

    @grilly.jit
    def f(x):
        seen.append(x.shape)  # runs at trace time only
        return x.astype(gnp.int8) + 1

    out = f(gnp.arange(4.0))
    f(gnp.arange(4.0) + 1)
    assert out.dtype == np.int8 and out.tolist() == [1, 2, 3, 4]
    assert seen == [(4,)]
