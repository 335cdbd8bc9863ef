"""Feature whitening (decorrelation) by PCA and ZCA, and the symmetric eigensolver they use.

For data ``X`` (n, d) with mean ``mu`` and covariance ``C = (X - mu)^T (X - mu) / n = U diag(lam) U^T``:

    W_pca = diag(lam + eps)^(-1/2) U^T          (rotate onto the principal axes, then rescale)
    W_zca = U diag(lam + eps)^(-1/2) U^T        (= (C + eps I)^(-1/2), the whitening closest to the data)
    whitened = (X - mu) W^T,  whose covariance is diag(lam / (lam + eps)) ~ I

``symmetric_eigh`` is a parallel cyclic Jacobi method written with grilly ops (it runs on every backend and is
differentiable): each round applies d/2 disjoint plane rotations ``A <- J^T A J`` that zero the (p, q) entries,
with the rotation angle from ``theta = (a_qq - a_pp) / (2 a_pq)``, ``t = sgn(theta) / (|theta| + sqrt(theta^2 + 1))``,
``c = 1 / sqrt(t^2 + 1)``, ``s = t c``; a sweep visits every pair once (round-robin schedule) and convergence is
quadratic.
"""

from __future__ import annotations

import numpy as np

import grilly.numpy as gnp
from grilly.core.array import Array


def _round_robin(m: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The m - 1 rounds of disjoint pairs (p, q), p < q, that together cover every pair of 0 .. m-1 (m even)."""
    players, rounds = list(range(m)), []
    for _ in range(m - 1):
        pairs = sorted(tuple(sorted((players[i], players[m - 1 - i]))) for i in range(m // 2))
        rounds.append((np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])))
        players = [players[0], players[-1], *players[1:-1]]
    return rounds


def symmetric_eigh(a, sweeps: int = 8) -> tuple[Array, Array]:
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix, like ``numpy.linalg.eigh``.

    >>> import grilly.numpy as gnp
    >>> w, v = symmetric_eigh(gnp.asarray([[2.0, 1.0], [1.0, 2.0]]))
    >>> [round(x, 5) for x in w.tolist()]
    [1.0, 3.0]
    """
    a = gnp.asarray(a)
    d = a.shape[0]
    m = d + d % 2  # odd sizes get one decoupled padding row and column, removed at the end
    if m != d:
        a = gnp.pad(a, ((0, 1), (0, 1)))
    eye = np.eye(m, dtype=a.dtype)
    v = gnp.asarray(eye)
    rounds = [(eye[p], eye[q]) for p, q in _round_robin(m)] if m > 1 else []
    for _ in range(sweeps):
        for ep, eq in rounds:
            pa = gnp.matmul(ep, a)
            app = gnp.sum(pa * ep, axis=1)
            apq = gnp.sum(pa * eq, axis=1)
            aqq = gnp.sum(gnp.matmul(eq, a) * eq, axis=1)
            zero = gnp.abs(apq) <= 1e-30
            theta = (aqq - app) / (2.0 * gnp.where(zero, 1.0, apq))
            t = gnp.where(theta >= 0, 1.0, -1.0) / (gnp.abs(theta) + gnp.sqrt(theta * theta + 1.0))
            t = gnp.where(zero, 0.0, t)
            c = 1.0 / gnp.sqrt(t * t + 1.0)
            s = t * c
            rot = (eye - ep.T @ ep - eq.T @ eq + gnp.matmul(ep.T * c, ep) + gnp.matmul(eq.T * c, eq)
                   + gnp.matmul(ep.T * s, eq) - gnp.matmul(eq.T * s, ep))
            a = gnp.matmul(gnp.matmul(rot.T, a), rot)
            v = gnp.matmul(v, rot)
    w = gnp.diagonal(a)
    if m != d:
        w, v = w[:d], v[:d, :d]
    order = gnp.argsort(w)
    return gnp.take(w, order), gnp.take(v, order, axis=1)


def covariance(x) -> tuple[Array, Array]:
    """The mean (d,) and biased covariance ``(X - mu)^T (X - mu) / n`` (d, d) of the rows of ``x``.

    >>> import grilly.numpy as gnp
    >>> mu, c = covariance(gnp.asarray([[0.0, 0.0], [2.0, 2.0]]))
    >>> mu.tolist(), c.tolist()
    ([1.0, 1.0], [[1.0, 1.0], [1.0, 1.0]])
    """
    x = gnp.asarray(x)
    mu = gnp.mean(x, axis=0)
    xc = x - mu
    return mu, gnp.matmul(xc.T, xc) / float(x.shape[0])


def whitening_matrix(x, method: str = "zca", eps: float = 1e-5, sweeps: int = 8) -> tuple[Array, Array]:
    """``(W, mu)`` such that ``(x - mu) @ W.T`` has (nearly) identity covariance; ``method`` "zca" or "pca".

    >>> import grilly.numpy as gnp
    >>> W, mu = whitening_matrix(gnp.asarray([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]]), eps=0.0)
    >>> [[round(v, 4) for v in row] for row in W.tolist()]
    [[1.0, 0.0], [0.0, 0.5]]
    """
    if method not in ("zca", "pca"):
        raise ValueError(f"whitening: method must be 'zca' or 'pca', got {method!r}")
    mu, c = covariance(x)
    lam, u = symmetric_eigh(c, sweeps)
    inv_sqrt = 1.0 / gnp.sqrt(gnp.maximum(lam, 0.0) + eps)  # tiny negative eigenvalues are rounding noise
    w_pca = inv_sqrt[:, None] * u.T
    return (w_pca if method == "pca" else gnp.matmul(u, w_pca)), mu


def whiten(x, method: str = "zca", eps: float = 1e-5, sweeps: int = 8) -> Array:
    """Whitened data ``(x - mu) W^T`` (n, d) with ``W`` from :func:`whitening_matrix`.

    >>> import grilly.numpy as gnp, numpy as np
    >>> x = gnp.asarray(np.random.default_rng(0).normal(size=(200, 3)) @ np.diag([1.0, 5.0, 0.2]))
    >>> xw = whiten(x, eps=0.0)
    >>> bool(np.allclose(np.cov(np.asarray(xw).T, bias=True), np.eye(3), atol=1e-3))
    True
    """
    w, mu = whitening_matrix(x, method, eps, sweeps)
    return gnp.matmul(gnp.asarray(x) - mu, w.T)
