"""Activation functions, written with grilly.numpy so every transform (grad, vmap, jit) applies.

>>> import grilly.functional as F, numpy as np
>>> F.relu(np.array([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""

from __future__ import annotations

import math

import grilly.numpy as gnp
from grilly.functional._util import as_float
from grilly.lax import elementwise as E
from grilly.lax.attention import softmax as lax_softmax
from grilly.transforms.misc import stop_gradient


def relu(x):
    """max(x, 0).

    >>> import grilly.functional as F
    >>> F.relu([-2.0, 3.0]).tolist()
    [0.0, 3.0]
    """
    x = as_float(x)
    return gnp.maximum(x, 0.0)


def relu6(x):
    """min(max(x, 0), 6)."""
    return gnp.minimum(relu(x), 6.0)


def leaky_relu(x, negative_slope: float = 0.01):
    """x for x >= 0, ``negative_slope * x`` otherwise.

    >>> import grilly.functional as F
    >>> F.leaky_relu([-1.0, 1.0], 0.1).tolist()
    [-0.10000000149011612, 1.0]
    """
    x = as_float(x)
    return gnp.where(x >= 0, x, x * negative_slope)


def elu(x, alpha: float = 1.0):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""
    x = as_float(x)
    return gnp.where(x > 0, x, alpha * gnp.expm1(gnp.minimum(x, 0.0)))


def gelu(x, approximate: bool | str = False):
    """Gaussian error linear unit: ``x * Phi(x)`` (exact, with erf) or the tanh approximation.

    ``approximate`` is a bool (JAX) or "none"/"tanh" (PyTorch).

    >>> import grilly.functional as F
    >>> round(float(F.gelu([1.0])[0]), 4), round(float(F.gelu([1.0], approximate="tanh")[0]), 4)
    (0.8413, 0.8412)
    """
    x = as_float(x)
    if approximate in ("tanh", True):
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + gnp.tanh(inner))
    if approximate not in ("none", False, None):
        raise ValueError(f"gelu: approximate must be a bool, 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1.0 + gnp.erf(x * (1.0 / math.sqrt(2.0))))


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return E.logistic(as_float(x))


def log_sigmoid(x):
    """log(sigmoid(x)), computed without overflow."""
    return -softplus(-as_float(x))


def silu(x):
    """x * sigmoid(x) (also called swish).

    >>> import grilly.functional as F
    >>> round(float(F.silu([1.0])[0]), 4)
    0.7311
    """
    x = as_float(x)
    return x * E.logistic(x)


swish = silu


def tanh(x):
    """Hyperbolic tangent."""
    return gnp.tanh(as_float(x))


def softplus(x, beta: float = 1.0):
    """log(1 + exp(beta x)) / beta, computed as max(z, 0) + log1p(exp(-|z|)) so it never overflows.

    >>> import grilly.functional as F
    >>> round(float(F.softplus([0.0])[0]), 4)
    0.6931
    """
    z = as_float(x) * beta if beta != 1.0 else as_float(x)
    out = gnp.maximum(z, 0.0) + gnp.log1p(gnp.exp(-gnp.abs(z)))
    return out / beta if beta != 1.0 else out


def softmax(x, axis: int = -1):
    """exp(x) / sum(exp(x)) along ``axis`` (the max is subtracted first for stability).

    >>> import grilly.functional as F
    >>> F.softmax([0.0, 0.0]).tolist()
    [0.5, 0.5]
    """
    return lax_softmax(as_float(x), axis)  # one fused row kernel on Vulkan


def log_softmax(x, axis: int = -1):
    """x - logsumexp(x) along ``axis``.

    >>> import grilly.functional as F
    >>> round(float(F.log_softmax([0.0, 0.0])[0]), 4)
    -0.6931
    """
    x = as_float(x)
    shifted = x - stop_gradient(gnp.max(x, axis=axis, keepdims=True))
    return shifted - gnp.log(gnp.sum(gnp.exp(shifted), axis=axis, keepdims=True))
