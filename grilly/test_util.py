"""Numerical derivative checks, as ``jax.test_util.check_grads``."""

from __future__ import annotations

import numpy as np

from grilly import tree
from grilly.core import dtypes

DEFAULT_TOL = {np.dtype(np.float16): 5e-2, dtypes.bfloat16: 1e-1, np.dtype(np.float32): 2e-2,
               np.dtype(np.float64): 1e-5}


def _vec(xs):
    return [np.asarray(x, dtype=np.float64) for x in tree.leaves(xs)]


def _add(xs, ts, s):
    return tree.unflatten(tree.structure(xs), [np.asarray(x, np.float64) + s * np.asarray(t, np.float64)
                                               for x, t in zip(tree.leaves(xs), tree.leaves(ts))])


def _inner(a, b):
    return float(sum(np.sum(np.asarray(x, np.float64) * np.asarray(y, np.float64))
                     for x, y in zip(tree.leaves(a), tree.leaves(b))))


def _tol(xs, atol, rtol):
    dts = {np.asarray(x).dtype for x in tree.leaves(xs)}
    t = max(DEFAULT_TOL.get(d, 1e-5) for d in dts) if dts else 1e-5
    return atol if atol is not None else t, rtol if rtol is not None else t


def _cast(xs, like):
    return tree.unflatten(tree.structure(like), [np.asarray(x).astype(np.asarray(y).dtype)
                                                 for x, y in zip(tree.leaves(xs), tree.leaves(like))])


def _random_like(xs, rng):
    return tree.map(lambda x: rng.standard_normal(np.shape(x)).astype(np.asarray(x).dtype), xs)


def check_jvp(f, args, eps=1e-4, atol=None, rtol=None, rng=None):
    """The JVP in a random direction against central finite differences."""
    from grilly.transforms.jvp import jvp

    rng = rng or np.random.default_rng(0)
    args = tuple(args)
    ts = _random_like(args, rng)
    y, t_out = jvp(f, args, ts)
    yp = f(*_cast(_add(args, ts, eps), args))
    ym = f(*_cast(_add(args, ts, -eps), args))
    fd = tree.map(lambda a, b: (np.asarray(a, np.float64) - np.asarray(b, np.float64)) / (2 * eps), yp, ym)
    a, r = _tol(args, atol, rtol)
    for got, want in zip(tree.leaves(t_out), tree.leaves(fd)):
        np.testing.assert_allclose(np.asarray(got, np.float64), want, atol=a, rtol=r,
                                   err_msg="JVP vs finite differences")


def check_vjp(f, args, eps=1e-4, atol=None, rtol=None, rng=None):
    """The VJP against the JVP through the inner-product identity <ct, J t> = <J^T ct, t>, and the JVP against
    finite differences."""
    from grilly.transforms.tape import vjp

    rng = rng or np.random.default_rng(1)
    args = tuple(args)
    ts = _random_like(args, rng)
    y, pull = vjp(f, *args)
    ct = _random_like(tree.map(np.asarray, y), rng)
    ct_in = pull(ct)
    yp = f(*_cast(_add(args, ts, eps), args))
    ym = f(*_cast(_add(args, ts, -eps), args))
    fd = tree.map(lambda p, m: (np.asarray(p, np.float64) - np.asarray(m, np.float64)) / (2 * eps), yp, ym)
    lhs = _inner(ct, fd)
    rhs = _inner(ct_in, ts)
    a, r = _tol(args, atol, rtol)
    np.testing.assert_allclose(rhs, lhs, atol=a * max(1.0, abs(lhs)), rtol=r,
                               err_msg="VJP: <ct, J t> (finite differences) != <J^T ct, t>")


def check_grads(f, args, order: int = 1, modes=("fwd", "rev"), eps=None, atol=None, rtol=None):
    """Check forward- and reverse-mode derivatives of ``f`` at ``args`` up to ``order``, as JAX does.

    >>> import grilly.numpy as gnp, numpy as np
    >>> check_grads(gnp.sin, (np.array([0.3, 1.2]),), order=2)
    """
    from grilly.transforms.jvp import jvp
    from grilly.transforms.tape import vjp

    # NumPy arguments take the dtype grilly computes in (float64 becomes float32 unless x64 is on), so the
    # tolerances and the finite-difference step match the precision actually used
    args = tuple(tree.map(lambda x: np.asarray(x).astype(dtypes.canonicalize(np.asarray(x).dtype)), a)
                 if not hasattr(a, "aval") else a for a in args)
    dt = {np.asarray(x).dtype for x in tree.leaves(args)}
    eps = eps or (1e-4 if dt <= {np.dtype(np.float64)} else 1e-2)

    def _check(fn, order):
        if "fwd" in modes:
            check_jvp(fn, args, eps, atol, rtol)
            if order > 1:
                rng = np.random.default_rng(2)
                ts = _random_like(args, rng)
                _check_higher(lambda *a: jvp(fn, a, ts)[1], order - 1)
        if "rev" in modes:
            check_vjp(fn, args, eps, atol, rtol)
            if order > 1:
                rng = np.random.default_rng(3)
                y = fn(*args)
                ct = _random_like(tree.map(np.asarray, y), rng)
                _check_higher(lambda *a: vjp(fn, *a)[1](ct), order - 1)

    def _check_higher(fn, order):
        _check_inner(fn, order)

    def _check_inner(fn, order):
        if "fwd" in modes:
            check_jvp(fn, args, eps, atol, rtol)
        if "rev" in modes:
            check_vjp(fn, args, eps, atol, rtol)
        if order > 1:
            _check(fn, order - 1)

    _check(f, order)
