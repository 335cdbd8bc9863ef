"""jit equals eager: random elementwise chains, reductions, matmuls, scans and MLP training steps, called
repeatedly with new inputs. On Vulkan each program is recorded once and replayed with one submit per call."""

from __future__ import annotations

import numpy as np
import pytest
from jit_programs import random_chain

import grilly
import grilly.numpy as gnp
from grilly import lax


def on_vulkan() -> bool:
    return grilly.default_backend() == "vulkan"


def replays() -> bool:
    """Whether jitted programs are recorded and replayed here (Vulkan with buffer device addresses)."""
    if not on_vulkan():
        return False
    from grilly.core.backend.vulkan import get_runtime

    return getattr(get_runtime(), "bda", True)


def replay_info(jitted) -> dict:
    """How the (single) cached program of ``jitted`` ran on Vulkan."""
    from grilly.core.backend.vulkan.jit import replay_info as info

    (entry,) = jitted._cache.values()
    return info(entry[0])


def _close(got, want, rtol=1e-5, atol=1e-5):
    for g, w in zip(grilly.tree.leaves(got), grilly.tree.leaves(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


def _assert_replayed(jitted, max_dispatches=None):
    if replays():
        info = replay_info(jitted)
        assert info["mode"] == "replay", info
        if max_dispatches is not None:
            assert info["dispatches"] <= max_dispatches, info


@pytest.mark.parametrize("seed", range(10))
def test_random_elementwise_chains(seed, rng):
    f, f_np = random_chain(100 + seed, n_ops=int(rng.integers(3, 40)))
    jf = grilly.jit(f)
    for _ in range(3):  # new inputs every call: the replay binds them without re-recording
        x, y = (rng.uniform(-2, 2, (4, 9)).astype(np.float32) for _ in range(2))
        got = jf(gnp.asarray(x), gnp.asarray(y))
        _close(got, f(gnp.asarray(x), gnp.asarray(y)))
        _close(got, f_np(x, y), rtol=1e-4)
    _assert_replayed(jf, max_dispatches=4)
    assert len(jf._cache) == 1


@pytest.mark.parametrize("seed", range(4))
def test_reductions_and_matmuls(seed):
    rng = np.random.default_rng(seed)

    def f(a, b, c):
        h = gnp.tanh(a @ b) + c
        return gnp.sum(h, axis=0), gnp.max(h, axis=1), gnp.mean(gnp.exp(h * 0.1)), (h.T @ a).reshape(-1)

    jf = grilly.jit(f)
    for _ in range(2):
        a, b, c = (rng.normal(size=s).astype(np.float32) for s in ((5, 7), (7, 3), (3,)))
        args = [gnp.asarray(v) for v in (a, b, c)]
        got = jf(*args)
        _close(got, f(*args), rtol=1e-4)
        h = np.tanh(a @ b) + c
        _close(got, (h.sum(0), h.max(1), np.exp(h * 0.1).mean(), (h.T @ a).reshape(-1)), rtol=1e-4)
    _assert_replayed(jf)


def test_outputs_may_be_inputs_constants_or_repeated(rng):
    k = gnp.asarray(rng.normal(size=3).astype(np.float32))
    jf = grilly.jit(lambda x: (x, k, 2.0, x * 2.0, x * 2.0))
    x = gnp.asarray(rng.normal(size=3).astype(np.float32))
    got = jf(x)
    _close(got, (x, k, np.float32(2.0), x * 2.0, x * 2.0))
    _close(jf(x + 1.0), (x + 1.0, k, np.float32(2.0), (x + 1.0) * 2.0, (x + 1.0) * 2.0))


def test_many_calls_in_flight_give_each_its_own_result(rng):
    jf = grilly.jit(lambda x, s: gnp.sin(x) * s + gnp.cos(x))
    xs = [rng.normal(size=(64,)).astype(np.float32) for _ in range(7)]
    outs = [jf(gnp.asarray(x), np.float32(i)) for i, x in enumerate(xs)]  # no host read in between
    for i, (x, o) in enumerate(zip(xs, outs)):
        np.testing.assert_allclose(np.asarray(o), np.sin(x) * i + np.cos(x), rtol=1e-5, atol=1e-5)


def test_eager_work_before_and_after_a_call_is_ordered(rng):
    jf = grilly.jit(lambda x: gnp.exp(x) - 1.0)
    x = rng.normal(size=33).astype(np.float32)
    a = gnp.asarray(x) * 3.0  # pending eager work feeds the call
    b = jf(a) + 1.0  # and eager work consumes its output
    np.testing.assert_allclose(np.asarray(b), np.exp(3 * x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_scan_is_recorded_once_per_step(seed):
    rng = np.random.default_rng(seed)
    T = 40

    def sim(v0, xs, w):
        def step(v, x):
            v = 0.9 * v + x @ w
            spike = (v > 1.0).astype(np.float32)
            return v * (1.0 - spike), spike

        return lax.scan(step, v0, xs)

    jsim = grilly.jit(sim)
    for _ in range(2):
        v0 = gnp.asarray(rng.uniform(size=5).astype(np.float32))
        xs = gnp.asarray(rng.uniform(0, 0.6, size=(T, 3)).astype(np.float32))
        w = gnp.asarray(rng.uniform(0, 1, size=(3, 5)).astype(np.float32))
        _close(jsim(v0, xs, w), sim(v0, xs, w))
    if replays():
        info = replay_info(jsim)
        assert info["mode"] == "replay" and info["dispatches"] >= T, info


def _mlp_loss(p, x, y):
    h = gnp.maximum(x @ p["w1"] + p["b1"], 0.0)
    logits = h @ p["w2"] + p["b2"]
    logp = logits - gnp.log(gnp.sum(gnp.exp(logits), axis=1, keepdims=True))
    return -gnp.mean(gnp.sum(logp * y, axis=1))


def _adam_step(p, m, v, t, x, y, lr=1e-2):
    loss, g = grilly.value_and_grad(_mlp_loss)(p, x, y)
    m = {k: 0.9 * m[k] + 0.1 * g[k] for k in p}
    v = {k: 0.999 * v[k] + 0.001 * g[k] * g[k] for k in p}
    c1, c2 = 1.0 - 0.9 ** t, 1.0 - 0.999 ** t
    p = {k: p[k] - lr * (m[k] / c1) / (gnp.sqrt(v[k] / c2) + 1e-8) for k in p}
    return loss, p, m, v


def _mlp(rng, n_in=6, n_h=16, n_out=4):
    p = {"w1": rng.normal(size=(n_in, n_h)) * 0.5, "b1": np.zeros(n_h), "w2": rng.normal(size=(n_h, n_out)) * 0.5,
         "b2": np.zeros(n_out)}
    return {k: gnp.asarray(v.astype(np.float32)) for k, v in p.items()}


@pytest.mark.parametrize("donate", [False, True])
def test_mlp_training_steps_match_eager(donate, rng):
    p = _mlp(rng)
    zeros = {k: gnp.zeros_like(v) for k, v in p.items()}
    x = gnp.asarray(rng.normal(size=(8, 6)).astype(np.float32))
    y = gnp.asarray(np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)])
    step = grilly.jit(_adam_step, static_argnums=3, donate_argnums=(0, 1, 2) if donate else ())
    pe, me, ve = p, zeros, zeros
    copy = lambda tree: {k: v * 1.0 for k, v in tree.items()}  # noqa: E731  (donated buffers are consumed)
    pj, mj, vj = copy(p), copy(zeros), copy(zeros)
    for t in range(1, 5):
        le, pe, me, ve = _adam_step(pe, me, ve, t, x, y)
        lj, pj, mj, vj = step(pj, mj, vj, t, x, y)
        np.testing.assert_allclose(float(lj), float(le), rtol=1e-5)
        _close((pj, mj, vj), (pe, me, ve), rtol=1e-4, atol=1e-6)
    assert float(lj) < float(_mlp_loss(p, x, y))


def test_jit_of_grad_equals_grad(rng):
    f = lambda w, x: gnp.sum(gnp.tanh(x @ w) ** 2)  # noqa: E731
    w, x = (gnp.asarray(rng.normal(size=s).astype(np.float32)) for s in ((4, 3), (5, 4)))
    _close(grilly.jit(grilly.grad(f))(w, x), grilly.grad(f)(w, x))
    _close(grilly.grad(grilly.jit(f))(w, x), grilly.grad(f)(w, x))


def test_nested_jit(rng):
    inner = grilly.jit(lambda a: gnp.sin(a) * 2.0)
    outer = grilly.jit(lambda a: inner(a) + inner(a * 3.0))
    x = gnp.asarray(rng.normal(size=6).astype(np.float32))
    _close(outer(x), np.sin(np.asarray(x)) * 2 + np.sin(np.asarray(x) * 3) * 2)


def test_host_dependent_control_flow_runs_eagerly_and_correctly():
    import warnings

    jw = grilly.jit(lambda x: lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 2.0), (0, x)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n, y = jw(gnp.ones(3))
        jw(gnp.ones(3))
    said = [w for w in caught if "runs eagerly" in str(w.message)]
    assert len(said) == (1 if replays() else 0)
    assert int(n) == 5 and np.asarray(y).tolist() == [32.0] * 3
    if replays():
        info = replay_info(jw)
        assert info["mode"] == "eager" and "'while'" in info["reason"] and "host" in info["reason"]


def test_cond_and_switch_on_computed_indices_are_replayed(rng):
    jc = grilly.jit(lambda x: lax.cond(gnp.sum(x) > 0, lambda v: v * 2.0, lambda v: gnp.exp(-v), x))
    js = grilly.jit(lambda i, x: lax.switch(i, [lambda v: v + 1.0, lambda v: v * v, lambda v: -v], x))
    for _ in range(3):
        x = rng.normal(size=5).astype(np.float32)
        want = x * 2 if x.sum() > 0 else np.exp(-x)
        np.testing.assert_allclose(np.asarray(jc(gnp.asarray(x))), want, rtol=1e-6)
        for i in (-1, 0, 1, 2, 7):  # the index is clamped into range
            k = min(max(i, 0), 2)
            want = (x + 1, x * x, -x)[k]
            np.testing.assert_allclose(np.asarray(js(np.int32(i), gnp.asarray(x))), want, rtol=1e-6)
    for jitted in (jc, js):
        _assert_replayed(jitted)


def test_donated_buffers_are_updated_in_place(rng):
    update = grilly.jit(lambda p, g: (p - 0.5 * g, gnp.sum(g)), donate_argnums=0)
    p = gnp.asarray(rng.normal(size=300).astype(np.float32))
    g = gnp.asarray(rng.normal(size=300).astype(np.float32))
    want = np.asarray(p) - 0.5 * np.asarray(g)
    addr = p._buf.addr if replays() else None
    new, total = update(p, g)
    np.testing.assert_allclose(np.asarray(new), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(total), np.asarray(g).sum(), rtol=1e-4, atol=1e-4)
    if replays():
        assert new._buf.addr == addr  # the output took the donated buffer
        with pytest.raises(grilly.GrillyError, match="donated"):
            np.asarray(p)
    again, _ = update(new, g)  # the output can be donated in turn
    np.testing.assert_allclose(np.asarray(again), want - 0.5 * np.asarray(g), rtol=1e-5, atol=1e-5)


def test_a_shared_buffer_is_not_donated(rng):
    update = grilly.jit(lambda p: p * 2.0, donate_argnums=0)
    p = gnp.asarray(rng.normal(size=(4, 5)).astype(np.float32))
    view = p.reshape(20)  # shares p's bytes
    out = update(p)
    np.testing.assert_allclose(np.asarray(out), np.asarray(view).reshape(4, 5) * 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(view), np.asarray(out).reshape(20) / 2, rtol=1e-6)


def test_memory_plan_reuses_ranges_and_never_aliases_live_values(rng):
    def chain(x, w):
        for _ in range(12):  # matmuls are not fused: each leaves a value in the arena
            x = gnp.tanh(x @ w)
        return x

    jf = grilly.jit(chain)
    x, w = (gnp.asarray(rng.normal(size=s).astype(np.float32) * 0.5) for s in ((16, 32), (32, 32)))
    _close(jf(x, w), chain(x, w), rtol=1e-4)
    if replays():
        from grilly.core.backend.vulkan.jit import replay_of
        from grilly.core.backend.vulkan.jit.planner import overlapping

        (entry,) = jf._cache.values()
        replay = replay_of(entry[0])
        intervals = [(n, f, last) for n, f, last, _ in replay.plan]
        offsets = [a for *_, a in replay.plan]
        assert not overlapping(intervals, offsets)
        assert replay.arena.nbytes < sum(n for n, *_ in intervals) / 3


@pytest.mark.parametrize("seed", range(8))
def test_random_mixed_programs(seed):
    from jit_programs import random_mixed

    rng = np.random.default_rng(seed)
    f, f_np = random_mixed(seed, n_ops=int(rng.integers(4, 16)))
    jf = grilly.jit(f)
    for _ in range(2):
        x, w = rng.normal(size=(4, 6)).astype(np.float32), (rng.normal(size=(6, 6)) / 3).astype(np.float32)
        got = jf(gnp.asarray(x), gnp.asarray(w))
        _close(got, f(gnp.asarray(x), gnp.asarray(w)), rtol=1e-4)
        _close(got, f_np(x, w), rtol=1e-3, atol=1e-4)
    _assert_replayed(jf)


def test_views_odd_dtypes_empty_and_scalar_arguments(rng):
    def f(mask, ints, empty, scalar, view):
        return gnp.where(mask, view[0], 0.0), ints * 3 + 1, empty * 2.0, scalar + 1.0, view.sum(axis=0)

    jf = grilly.jit(f)
    for _ in range(2):
        mask = rng.random(7) < 0.5
        ints = rng.integers(-5, 5, 5).astype(np.int32)
        base = gnp.asarray(rng.normal(size=14).astype(np.float32))
        args = (gnp.asarray(mask), gnp.asarray(ints), gnp.zeros((0, 3)), gnp.asarray(np.float32(2.5)),
                base.reshape(2, 7))  # a reshaped view shares its owner's bytes
        got = jf(*args)
        v = np.asarray(base).reshape(2, 7)
        _close(got, (np.where(mask, v[0], 0), ints * 3 + 1, np.zeros((0, 3)), np.float32(3.5), v.sum(0)))
        assert np.asarray(got[1]).dtype == np.int32


def test_spiking_layer_training_step_matches_eager(rng):
    from grilly import snn

    T = 6
    x = gnp.asarray(rng.normal(size=(4, 5)).astype(np.float32))

    def loss(w):
        z = x @ w
        spikes, _ = snn.lif_scan(gnp.broadcast_to(z, (T, *z.shape)), tau=2.0, surrogate=snn.surrogate.atan())
        return gnp.sum((gnp.mean(spikes, axis=0) - 0.3) ** 2)

    def step(w):
        lval, g = grilly.value_and_grad(loss)(w)
        return lval, w - 0.5 * g

    jstep = grilly.jit(step)
    we = wj = gnp.asarray(rng.normal(size=(5, 3)).astype(np.float32))
    for _ in range(3):
        le, we = step(we)
        lj, wj = jstep(wj)
        np.testing.assert_allclose(float(lj), float(le), rtol=1e-5, atol=1e-6)
        _close(wj, we, rtol=1e-5, atol=1e-6)
    _assert_replayed(jstep)


def test_dead_recordings_give_their_arenas_back():
    """A recording that nobody can call any more returns its arena to the device pool once the GPU is done."""
    if grilly.default_backend() != "vulkan":
        pytest.skip("the arena belongs to the Vulkan replay")
    import gc

    from grilly.core.backend.vulkan import get_runtime
    from grilly.core.backend.vulkan.jit import replay_of

    rt = get_runtime()
    f = grilly.jit(lambda x: gnp.sin(x) * 2.0 + gnp.cos(x) * gnp.exp(x))
    x = gnp.ones(1 << 18)
    f(x).block_until_ready()
    (program, _, _), = f._cache.values()
    arena = replay_of(program).arena.nbytes
    assert arena >= x.nbytes
    rt.reclaim(wait=True)
    held = rt.device_pool.in_use
    del f, program
    gc.collect()
    rt.reclaim(wait=True)
    assert rt.device_pool.in_use <= held - arena



def test_recording_end_drops_placeholder_arrays_from_caches():
    """When a recording ends, every registered array cache (grilly.numpy's scalar constants among them) loses the
    arrays whose buffers are placeholders, and keeps the others."""
    if not on_vulkan():
        pytest.skip("the Vulkan jit recorder")
    from types import SimpleNamespace

    from grilly.core import array_caches
    from grilly.core.backend.vulkan.jit import _forget_placeholders
    from grilly.core.backend.vulkan.jit.recorder import TAG
    from grilly.numpy import _base

    def fake(addr):
        return SimpleNamespace(_buf=SimpleNamespace(addr=addr))

    cache = array_caches.register({"placeholder": fake(TAG << 56 | 5 << 20), "real": fake(1 << 20)})
    _base._constants["test placeholder"] = fake(TAG << 56 | 7 << 20)
    _forget_placeholders()
    assert list(cache) == ["real"] and "test placeholder" not in _base._constants
