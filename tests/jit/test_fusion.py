"""Elementwise fusion: fused programs compute what the original programs compute, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from jit_programs import random_chain

import grilly
import grilly.numpy as gnp
from grilly.core.fusion import MAX_REGS, compile_vm, fuse, fused_elementwise_p, known_scalars
from grilly.core.program import eval_program, trace_to_program
from grilly.lax._helpers import aval_of


def _trace(f, *args):
    args = [gnp.asarray(a) for a in args]
    program, consts = trace_to_program(lambda *xs: list(f(*xs)) if isinstance(f(*xs), tuple) else [f(*xs)],
                                       [aval_of(a) for a in args])
    return program, consts, args


def _fused_eqns(program):
    return [e for e in program.eqns if e.prim is fused_elementwise_p]


@pytest.mark.parametrize("seed", range(8))
def test_random_chains_fused_equal_unfused(seed, rng):
    f, f_np = random_chain(seed, n_ops=12)
    x, y = rng.uniform(-2, 2, (3, 5)).astype(np.float32), rng.uniform(-2, 2, (3, 5)).astype(np.float32)
    program, consts, args = _trace(f, x, y)
    fused = fuse(program)
    assert len(fused.eqns) < len(program.eqns)
    got = eval_program(fused, *consts, *args)
    want = eval_program(program, *consts, *args)
    for g, w, n in zip(got, want, f_np(x, y)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(g), n, rtol=1e-4, atol=1e-5)


def test_a_long_chain_becomes_one_equation():
    def f(x):
        for _ in range(50):
            x = gnp.sin(x) * 0.9 + 0.1
        return x

    program, consts, args = _trace(f, np.linspace(-1, 1, 10, dtype=np.float32))
    fused = fuse(program, known_scalars(program, consts))  # constants become immediates, not buffer slots
    assert len(program.eqns) > 100
    assert len(fused.eqns) == 1 and fused.eqns[0].prim is fused_elementwise_p
    np.testing.assert_allclose(np.asarray(eval_program(fused, *consts, *args)[0]),
                               np.asarray(eval_program(program, *consts, *args)[0]), rtol=1e-6, atol=1e-6)


def test_bias_and_scalar_broadcasts_fold_into_loads(rng):
    w, x, b = (rng.normal(size=s).astype(np.float32) for s in ((4, 6), (3, 4), (6,)))
    program, consts, args = _trace(lambda w, x, b: gnp.maximum(x @ w + b, 0.0) * 2.0, w, x, b)
    fused = fuse(program)
    assert [e.prim.name for e in fused.eqns] == ["dot_general", "fused_elementwise"]
    got = np.asarray(eval_program(fused, *consts, *args)[0])
    np.testing.assert_allclose(got, np.maximum(x @ w + b, 0) * 2, rtol=1e-5, atol=1e-5)


def test_many_live_values_split_into_groups_that_fit(rng):
    def f(x):
        parts = [gnp.sin(x * float(k)) for k in range(1, 24)]  # 23 values live at once
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total

    x = rng.uniform(-1, 1, 9).astype(np.float32)
    program, consts, args = _trace(f, x)
    fused = fuse(program)
    for e in _fused_eqns(fused):
        assert compile_vm(e.params["program"]) is not None
    want = sum(np.sin(x * k) for k in range(1, 24))
    np.testing.assert_allclose(np.asarray(eval_program(fused, *consts, *args)[0]), want, rtol=1e-5, atol=1e-5)
    assert MAX_REGS == 16


def test_values_used_outside_a_group_are_outputs_of_it(rng):
    x = rng.uniform(-1, 1, 7).astype(np.float32)
    program, consts, args = _trace(lambda x: (gnp.exp(x) + 1.0, gnp.sum(gnp.exp(x) * 2.0)), x)
    fused = fuse(program)
    a, s = eval_program(fused, *consts, *args)
    np.testing.assert_allclose(np.asarray(a), np.exp(x) + 1, rtol=1e-6)
    np.testing.assert_allclose(float(s), np.sum(np.exp(x) * 2), rtol=1e-5)


def test_int32_chains_fuse_and_wrap_like_the_single_op_kernels(rng):
    def f(i, x):
        j = gnp.maximum(i * 3 + 7, -i) - gnp.minimum(i, 2)
        k = gnp.where(j > 5, j * j, -j)
        return k, k.astype(np.float32) * x + (i == 4).astype(np.float32), (x > 0).astype(np.int32) + i

    i = np.array([0, 4, -3, 2**30, -(2**31) + 5, 123456, 7], np.int32)  # products wrap around
    x = rng.normal(size=7).astype(np.float32)
    program, consts, args = _trace(f, i, x)
    fused = fuse(program, known_scalars(program, consts))
    assert len(_fused_eqns(fused)) == 1 and len(fused.eqns) == 1
    for g, w in zip(eval_program(fused, *consts, *args), eval_program(program, *consts, *args)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_other_dtypes_are_left_alone():
    for dtype in (np.int8, np.uint32, np.float16):
        program, consts, args = _trace(lambda x: (x + x) * x, np.arange(5, dtype=dtype))
        assert not _fused_eqns(fuse(program)), dtype


def test_scan_bodies_are_fused(rng):
    from grilly import lax

    def f(v, xs):
        return lax.scan(lambda c, x: (gnp.tanh(c * 0.5 + x) * 2.0, c + 1.0), v, xs)

    v, xs = rng.normal(size=4).astype(np.float32), rng.normal(size=(6, 4)).astype(np.float32)
    program, consts, args = _trace(f, v, xs)
    fused = fuse(program)
    (scan,) = [e for e in fused.eqns if e.prim.name == "scan"]
    assert _fused_eqns(scan.params["program"])
    for g, w in zip(eval_program(fused, *consts, *args), eval_program(program, *consts, *args)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-6)


def test_transforms_see_through_a_fused_call(rng):
    x = rng.uniform(-1, 1, 5).astype(np.float32)
    program, consts, _ = _trace(lambda x: gnp.sin(x) * gnp.exp(x * 0.5), x)
    fused = fuse(program)

    def via(prog):
        return lambda x: gnp.sum(eval_program(prog, *consts, x)[0])

    np.testing.assert_allclose(np.asarray(grilly.grad(via(fused))(gnp.asarray(x))),
                               np.asarray(grilly.grad(via(program))(gnp.asarray(x))), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grilly.vmap(lambda r: eval_program(fused, *consts, r)[0])(
        gnp.asarray(np.stack([x, -x])))), np.stack([np.sin(x) * np.exp(x / 2), np.sin(-x) * np.exp(-x / 2)]),
        rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_interleaved_shapes_keep_dependencies_in_order(seed):
    rng = np.random.default_rng(seed)

    def f(x, y):  # groups of shape (4, 5), (5,) and () read from each other in both directions
        a = gnp.tanh(x) * 2.0
        b = gnp.sin(y) + 1.0
        c = a + b  # (4, 5) reads (5,)
        s = gnp.exp(gnp.sum(c) * 0.01)
        d = b * s - gnp.sum(a, axis=0)  # (5,) reads (4, 5) and ()
        e = c * d + s  # (4, 5) reads (5,) again
        return e, d * 3.0, s + 1.0

    x, y = rng.normal(size=(4, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    program, consts, args = _trace(f, x, y)
    fused = fuse(program, known_scalars(program, consts))
    assert _fused_eqns(fused)
    defined = {id(v) for v in fused.in_vars}
    for e in fused.eqns:  # every equation reads only values defined before it
        assert all(id(v) in defined for v in e.inputs if not hasattr(v, "val")), e.prim
        defined.update(id(v) for v in e.out_vars)
    for g, w in zip(eval_program(fused, *consts, *args), eval_program(program, *consts, *args)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5)


def test_comparisons_and_selects_fuse_with_booleans_kept_inside(rng):
    def f(v, x):
        v = 0.9 * v + x
        spike = (v > 1.0).astype(np.float32)
        reset = gnp.where(v >= 1.0, 0.0, v)
        flags = gnp.logical_not(v < -0.5)
        return reset + spike * 0.5, gnp.where(flags, v, -v), (v == 0.25).astype(np.float32) - (v != v)

    v, x = (rng.uniform(-1, 1.5, 40).astype(np.float32) for _ in range(2))
    v[3] = 0.25 / 0.9 - x[3] / 0.9  # an exact hit for ==, up to rounding
    program, consts, args = _trace(f, v, x)
    fused = fuse(program, known_scalars(program, consts))
    assert len(_fused_eqns(fused)) == 1 and len(fused.eqns) == 1
    for g, w in zip(eval_program(fused, *consts, *args), eval_program(program, *consts, *args)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_fused_programs_print_readably():
    program, consts, _ = _trace(lambda x: gnp.tanh(x * 0.123) + 4.5, np.ones(3, np.float32))
    fused = fuse(program, known_scalars(program, consts))
    text = str(fused.eqns[0].params["program"])
    assert "0.123" in text and "4.5" in text and "tanh" in text, text
    assert "fused_elementwise[program={ ... " in str(fused)


def test_uniform_constant_arrays_become_immediates(rng):
    half, idx = gnp.full((6,), 0.5), gnp.full((6,), 3, np.int32)  # concrete arrays, closed over
    x = rng.normal(size=6).astype(np.float32)
    program, consts, args = _trace(lambda x: (gnp.sin(x) * half + half, (idx * 2 + idx).astype(np.float32)), x)
    known = known_scalars(program, consts)
    assert {id(v) for v, c in zip(program.in_vars, consts) if c is half or c is idx} <= set(known)
    fused = fuse(program, known)
    (eqn,) = _fused_eqns(fused)
    assert len(eqn.inputs) == 1  # only x is read from memory
    for g, w in zip(eval_program(fused, *consts, *args), eval_program(program, *consts, *args)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
