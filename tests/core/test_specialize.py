"""The execution-only rewrites of grilly/core/specialize.py: the rewritten program computes the same values."""

from __future__ import annotations

import numpy as np

import grilly
import grilly.numpy as gnp
from grilly import lax
from grilly.core.program import eval_program, trace_to_program
from grilly.core.specialize import specialize
from grilly.lax._helpers import aval_of


def _same(fun, *args):
    args = [gnp.asarray(a) for a in args]
    prog, consts = trace_to_program(lambda *a: [fun(*a)], [aval_of(a) for a in args])
    fast = specialize(prog)
    for a, b in zip(eval_program(fast, *consts, *args), eval_program(prog, *consts, *args), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    return [e.prim.name for e in fast.eqns]


def test_transpose_of_transpose(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert _same(lambda x: gnp.sin(gnp.transpose(gnp.transpose(x, (2, 0, 1)), (1, 2, 0))), x) == ["sin"]
    names = _same(lambda x: gnp.transpose(gnp.transpose(x, (2, 0, 1)), (0, 2, 1)) * 2.0, x)
    assert names.count("transpose") == 1  # composed into one


def test_matmul_reads_through_transposes(rng):
    x = rng.standard_normal((5, 6, 7)).astype(np.float32)
    w = rng.standard_normal((3, 7)).astype(np.float32)
    assert "transpose" not in _same(lambda x, w: x @ w.T, x, w)
    assert "transpose" not in _same(lambda x, w: w @ gnp.transpose(x[0]), x, w)
    b = rng.standard_normal((5, 4, 7)).astype(np.float32)
    assert "transpose" not in _same(lambda x, b: lax.dot_general(x, gnp.transpose(b, (0, 2, 1)),
                                                               (((2,), (1,)), ((0,), (0,)))), x, b)


def test_matmul_keeps_a_transpose_that_reorders_free_axes(rng):
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((6, 3)).astype(np.float32)
    # (0, 2, 1) would put x's free axes out of order inside dot_general: the transpose must stay
    assert "transpose" in _same(lambda x, w: lax.dot_general(gnp.transpose(x, (1, 0, 2)), w, (((2,), (0,)),
                                                                                               ((), ()))), x, w)


def test_gradient_of_a_linear_layer(rng):
    x = rng.standard_normal((8, 16)).astype(np.float32)
    w = rng.standard_normal((4, 16)).astype(np.float32)
    names = _same(grilly.grad(lambda w: gnp.sum(gnp.tanh(x @ w.T))), w)
    assert "transpose" not in names
