"""The classic ``grilly.Learning`` (alias ``VulkanLearning``) facade over :mod:`grilly.learning`, and the
``CapsuleTransformer`` export. Methods take array-likes and return NumPy arrays, as the classic API did.

| classic call | functional equivalent |
|---|---|
| ``ewc_penalty(params, fisher_info, weight)`` | ``grilly.learning.ewc_penalty(params, anchor, fisher, weight)`` |
| ``nlms_update(weights, input, error, step_size)`` | ``grilly.learning.nlms_update(w, x, e, mu)`` |
| ``whitening(data, eps)`` | ``grilly.learning.whiten(x, "zca", eps)`` |
| ``natural_gradient(gradient, fisher_info)`` | ``grilly.learning.natural_gradient(g, F, damping)`` |
"""

from __future__ import annotations

import numpy as np

import grilly.learning as gl
import grilly.numpy as gnp
from grilly import tree
from grilly.memory.capsule import CapsuleConfig, CapsuleTransformer


def _np(x):
    return tree.map(np.asarray, x)


class Learning:
    """Learning rules with the classic signatures.

    >>> import numpy as np
    >>> learning = Learning()
    >>> learning.nlms_update(np.zeros(2), np.array([1.0, 1.0]), 2.0, step_size=1.0).round(4).tolist()
    [1.0, 1.0]
    >>> learning.consolidate(np.array([0.0, 0.0]), np.array([1.0, 2.0]))
    >>> float(learning.ewc_penalty(np.array([1.0, 1.0]), np.array([1.0, 2.0]), weight=2.0))
    3.0
    """

    def __init__(self):
        self._anchor = None

    def consolidate(self, params, fisher_info=None) -> None:
        """Remember ``params`` as the anchor ``theta*`` that later ``ewc_penalty`` calls pull towards."""
        self._anchor = tree.map(lambda p: gnp.asarray(np.asarray(p, np.float32)), params)

    def fisher_info(self, gradients) -> np.ndarray:
        """Diagonal Fisher ``mean_n g_n**2`` from a list of gradients (or an (N, n) array of them)."""
        grads = list(gradients)
        return _np(gl.fisher_from_gradients([gnp.asarray(np.asarray(g, np.float32)) for g in grads]))

    def ewc_penalty(self, params, fisher_info, weight: float = 1.0, optimal_params=None) -> np.ndarray:
        """``(weight / 2) sum_i F_i (theta_i - theta*_i)^2``.

        ``theta*`` is ``optimal_params`` when given, else the parameters passed to the last ``consolidate``.
        """
        anchor = optimal_params if optimal_params is not None else self._anchor
        if anchor is None:
            raise ValueError("ewc_penalty needs the anchor parameters: pass optimal_params= or call consolidate()")
        as_arr = lambda t: tree.map(lambda p: gnp.asarray(np.asarray(p, np.float32)), t)  # noqa: E731
        return _np(gl.ewc_penalty(as_arr(params), as_arr(anchor), as_arr(fisher_info), float(weight)))

    def nlms_update(self, weights, input, error, step_size: float = 0.5, eps: float = 1e-6) -> np.ndarray:  # noqa: A002
        """``w + mu e x / (eps + ||x||^2)``."""
        f32 = lambda a: gnp.asarray(np.asarray(a, np.float32))  # noqa: E731
        return _np(gl.nlms_update(f32(weights), f32(input), f32(error), float(step_size), float(eps)))

    def whitening(self, data, eps: float = 1e-5, method: str = "zca") -> np.ndarray:
        """Whitened data ``(X - mu) W^T`` (ZCA by default, or "pca")."""
        return _np(gl.whiten(gnp.asarray(np.asarray(data, np.float32)), method, float(eps)))

    def natural_gradient(self, gradient, fisher_info, damping: float = 1e-3) -> np.ndarray:
        """``(F + damping I)^(-1) g`` for a diagonal (same shape as g) or full (n, n) Fisher."""
        f32 = lambda a: gnp.asarray(np.asarray(a, np.float32))  # noqa: E731
        return _np(gl.natural_gradient(f32(gradient), f32(fisher_info), float(damping)))


VulkanLearning = Learning

__all__ = ["CapsuleConfig", "CapsuleTransformer", "Learning", "VulkanLearning"]
