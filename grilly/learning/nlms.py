"""Normalized least mean squares (NLMS) adaptive filtering.

For input ``x``, desired output ``d``, weights ``w`` and step size ``mu`` (stable for 0 < mu < 2):

    y = <w, x>,   e = d - y,   w <- w + mu e x / (eps + <x, x>)
"""

from __future__ import annotations

import grilly.lax as lax
import grilly.numpy as gnp
from grilly.core.array import Array


def nlms_update(weights, x, error, step_size: float = 0.5, eps: float = 1e-6) -> Array:
    """One NLMS step ``w + mu e x / (eps + ||x||^2)``; ``error`` is ``d - <w, x>``.

    ``weights`` (n,) or (n_out, n) with ``error`` () or (n_out,) for several filters sharing one input.

    >>> import grilly.numpy as gnp
    >>> nlms_update(gnp.zeros(2), gnp.asarray([1.0, 1.0]), 2.0, step_size=1.0, eps=0.0).tolist()
    [1.0, 1.0]
    """
    weights, x, error = gnp.asarray(weights), gnp.asarray(x), gnp.asarray(error)
    scale = step_size / (eps + gnp.sum(x * x))
    if weights.ndim == 2:
        return weights + scale * error[:, None] * x[None, :]
    return weights + scale * error * x


def nlms_filter(weights, inputs, desired, step_size: float = 0.5, eps: float = 1e-6) -> tuple[Array, Array, Array]:
    """Run NLMS over a sequence (T, n) of inputs and (T,) desired outputs with ``lax.scan``.

    Returns ``(final weights, predictions (T,), errors (T,))``; predictions use the weights before each update.

    >>> import grilly.numpy as gnp
    >>> xs = gnp.asarray([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> w, y, e = nlms_filter(gnp.zeros(2), xs, xs @ gnp.asarray([2.0, -1.0]), step_size=1.0, eps=0.0)
    >>> w.tolist(), e.tolist()
    ([2.0, -1.0], [2.0, -1.0, 0.0])
    """

    def step(w, xd):
        x, d = xd
        y = gnp.sum(w * x)
        e = d - y
        return nlms_update(w, x, e, step_size, eps), (y, e)

    w, (ys, es) = lax.scan(step, gnp.asarray(weights), (gnp.asarray(inputs), gnp.asarray(desired)))
    return w, ys, es
