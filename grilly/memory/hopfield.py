"""Associative recall with a modern (continuous) Hopfield network (Ramsauer et al., 2020).

Stored patterns are the rows of ``X`` (N, d). The energy of a state ``xi`` is

    E(xi) = -lse(beta, X xi) + 0.5 <xi, xi> + log(N) / beta + 0.5 M^2,   lse(beta, z) = log(sum_i exp(beta z_i)) / beta

with ``M = max_i ||x_i||``, and one update step, which never increases E, is

    xi <- X^T softmax(beta X xi).

For well-separated patterns one step retrieves the stored pattern nearest the query. The update is attention with
the patterns as keys and values, so it is differentiable.
"""

from __future__ import annotations

import grilly.numpy as gnp
from grilly.core.array import Array
from grilly.memory.kv import softmax


def hopfield_update(state, patterns, beta: float = 1.0) -> Array:
    """One modern-Hopfield step ``X^T softmax(beta X xi)`` for states (..., d) and patterns (N, d).

    >>> import grilly.numpy as gnp
    >>> X = gnp.asarray([[1.0, 0.0], [0.0, 1.0]])
    >>> [round(v, 3) for v in hopfield_update(gnp.asarray([0.9, 0.1]), X, beta=20.0).tolist()]
    [1.0, 0.0]
    """
    state, patterns = gnp.asarray(state), gnp.asarray(patterns)
    return gnp.matmul(softmax(beta * gnp.matmul(state, patterns.T)), patterns)


def hopfield_energy(state, patterns, beta: float = 1.0) -> Array:
    """The energy ``E(xi)`` above (a scalar per state).

    >>> import grilly.numpy as gnp
    >>> X = gnp.asarray([[1.0, 0.0], [0.0, 1.0]])
    >>> bool(hopfield_energy(gnp.asarray([1.0, 0.0]), X, 8.0) < hopfield_energy(gnp.asarray([0.5, 0.5]), X, 8.0))
    True
    """
    state, patterns = gnp.asarray(state), gnp.asarray(patterns)
    n = patterns.shape[0]
    lse = gnp.logsumexp(beta * gnp.matmul(state, patterns.T), axis=-1) / beta
    big_m = gnp.max(gnp.sum(patterns * patterns, axis=-1))
    return -lse + 0.5 * gnp.sum(state * state, axis=-1) + gnp.log(float(n)) / beta + 0.5 * big_m


def associative_recall(query, patterns, beta: float = 8.0, steps: int = 1) -> tuple[Array, Array]:
    """Retrieve the stored pattern associated with ``query``: ``(retrieved state, index of the nearest pattern)``.

    ``steps`` Hopfield updates, then the index of the pattern with the largest inner product with the result.

    >>> import grilly.numpy as gnp
    >>> X = gnp.asarray([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0], [1.0, 1.0, -1.0]])
    >>> _, idx = associative_recall(gnp.asarray([0.8, 0.9, -0.7]), X)
    >>> int(idx)
    2
    """
    xi = gnp.asarray(query)
    patterns = gnp.asarray(patterns)
    for _ in range(int(steps)):
        xi = hopfield_update(xi, patterns, beta)
    return xi, gnp.argmax(gnp.matmul(xi, patterns.T), axis=-1)
