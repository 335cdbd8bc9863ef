"""Natural gradient with a damped Fisher (Amari, 1998).

    g_nat = (F + lambda I)^(-1) g

- diagonal Fisher (same shape as ``g``): ``g_nat = g / (F + lambda)``, elementwise;
- full Fisher (n, n) for a flat gradient (n,): the SPD system ``(F + lambda I) x = g`` is solved by conjugate
  gradients, which needs only products ``F v`` (so ``fisher`` may also be a function ``v -> F v``).

The empirical Fisher of per-example gradients ``G`` (N, n) is ``F = G^T G / N``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grilly.numpy as gnp
from grilly import tree
from grilly.core.array import Array


def empirical_fisher(per_example_grads) -> Array:
    """``G^T G / N`` for per-example gradients ``G`` (N, n).

    >>> import grilly.numpy as gnp
    >>> empirical_fisher(gnp.asarray([[1.0, 0.0], [1.0, 2.0]])).tolist()
    [[1.0, 1.0], [1.0, 2.0]]
    """
    g = gnp.asarray(per_example_grads)
    return gnp.matmul(g.T, g) / float(g.shape[0])


def conjugate_gradient(matvec: Callable, b, iters: int | None = None, tol: float = 1e-10) -> Array:
    """Solve ``A x = b`` for SPD ``A`` given as ``matvec(v) = A v``, starting from 0, for ``iters`` steps
    (default ``len(b)``, exact in exact arithmetic). Steps after convergence (``r.r <= tol * b.b``) change nothing.

    >>> import grilly.numpy as gnp
    >>> A = gnp.asarray([[4.0, 1.0], [1.0, 3.0]])
    >>> [round(v, 4) for v in conjugate_gradient(lambda v: A @ v, gnp.asarray([1.0, 2.0])).tolist()]
    [0.0909, 0.6364]
    """
    b = gnp.asarray(b)
    x = gnp.zeros_like(b)
    r, p = b, b
    rr = gnp.sum(r * r)
    floor = tol * rr
    for _ in range(iters or b.shape[0]):
        ap = matvec(p)
        pap = gnp.sum(p * ap)
        live = rr > floor  # once converged, alpha and beta are 0: no 0/0 from an exhausted search direction
        alpha = gnp.where(live, rr / gnp.where(live, pap, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = gnp.sum(r * r)
        beta = gnp.where(live, rr_new / gnp.where(live, rr, 1.0), 0.0)
        p = r + beta * p
        rr = rr_new
    return x


def natural_gradient(gradient, fisher: Any, damping: float = 1e-3, iters: int | None = None) -> Any:
    """``(F + damping I)^(-1) g``.

    ``gradient`` and a diagonal ``fisher`` may be matching pytrees; a full ``fisher`` is an (n, n) array or a
    function ``v -> F v`` for a flat gradient (n,), solved by :func:`conjugate_gradient`.

    >>> import grilly.numpy as gnp
    >>> natural_gradient(gnp.asarray([1.0, 4.0]), gnp.asarray([1.0, 3.0]), damping=1.0).tolist()
    [0.5, 1.0]
    >>> F = gnp.asarray([[2.0, 0.0], [0.0, 4.0]])
    >>> [round(v, 4) for v in natural_gradient(gnp.asarray([2.0, 4.0]), F, damping=0.0).tolist()]
    [1.0, 1.0]
    """
    if callable(fisher):
        g = gnp.asarray(gradient)
        return conjugate_gradient(lambda v: fisher(v) + damping * v, g, iters)
    leaves = tree.leaves(gradient)
    if len(leaves) == 1 and not isinstance(gradient, dict | list | tuple):
        g, f = gnp.asarray(gradient), gnp.asarray(fisher)
        if f.ndim == 2 and g.ndim == 1 and f.shape == (g.shape[0], g.shape[0]):
            return conjugate_gradient(lambda v: gnp.matmul(f, v) + damping * v, g, iters)
    return tree.map(lambda gl, fl: gl / (fl + damping), gradient, fisher)
