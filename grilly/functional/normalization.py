"""Normalization (layer norm, RMS norm) and dropout.

>>> import grilly.functional as F, numpy as np
>>> y = F.layer_norm(np.array([[1.0, 3.0]]), (2,))
>>> [round(v, 3) for v in y[0].tolist()]
[-1.0, 1.0]
"""

from __future__ import annotations

import grilly.numpy as gnp
from grilly.functional._util import as_float, asarray
from grilly.lax.attention import layer_norm as lax_layer_norm
from grilly.random import bernoulli


def _norm_axes(x, normalized_shape) -> tuple[int, ...]:
    if normalized_shape is None:
        return (x.ndim - 1,)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ValueError(f"normalized_shape {shape} does not match the trailing dimensions of input {x.shape}")
    return tuple(range(x.ndim - len(shape), x.ndim))


def _fused_affine(x, axes, weight, bias):
    """(gamma, beta) for lax.layer_norm when the op is a last-axis norm with (d,) affine params, else None."""
    d = x.shape[-1]
    if len(axes) != 1 or d == 0:
        return None
    gamma = gnp.ones((d,), x.dtype) if weight is None else asarray(weight)
    beta = gnp.zeros((d,), x.dtype) if bias is None else asarray(bias)
    if gamma.shape != (d,) or beta.shape != (d,):
        return None
    return gnp.astype(gamma, x.dtype), gnp.astype(beta, x.dtype)


def layer_norm(x, normalized_shape=None, weight=None, bias=None, eps: float = 1e-5):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the trailing ``normalized_shape`` dimensions
    (the last one when None), as torch.nn.functional.layer_norm; the variance is the biased one.

    >>> import grilly.functional as F, numpy as np
    >>> F.layer_norm(np.array([2.0, 2.0]), 2, bias=np.array([1.0, 1.0])).tolist()
    [1.0, 1.0]
    """
    x = as_float(x)
    axes = _norm_axes(x, normalized_shape)
    fused = _fused_affine(x, axes, weight, bias)
    if fused is not None:  # the common case: one row kernel (its VJP is fused too; it has no JVP rule)
        return lax_layer_norm(x, *fused, eps=eps)
    mean = gnp.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    var = gnp.mean(centered * centered, axis=axes, keepdims=True)
    y = centered * gnp.reciprocal(gnp.sqrt(var + eps))
    if weight is not None:
        y = y * asarray(weight)
    if bias is not None:
        y = y + asarray(bias)
    return y


def rms_norm(x, normalized_shape=None, weight=None, eps: float = 1e-6):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the trailing ``normalized_shape`` dimensions.

    >>> import grilly.functional as F, numpy as np
    >>> [round(v, 4) for v in F.rms_norm(np.array([3.0, 4.0]), eps=0.0).tolist()]
    [0.8485, 1.1314]
    """
    x = as_float(x)
    axes = _norm_axes(x, normalized_shape)
    ms = gnp.mean(x * x, axis=axes, keepdims=True)
    y = x * gnp.reciprocal(gnp.sqrt(ms + eps))
    return y if weight is None else y * asarray(weight)


def dropout(x, p: float = 0.5, key=None, *, training: bool = True, deterministic: bool | None = None):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Randomness comes only from the explicit ``key`` (a grilly.random key). With ``training=False`` (or
    ``deterministic=True``, the Flax spelling) or ``p == 0`` it returns ``x`` unchanged and needs no key.

    >>> import grilly.functional as F, grilly.random as gr, numpy as np
    >>> F.dropout(np.ones(3), 0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    >>> sorted(set(F.dropout(np.ones(8), 0.5, gr.PRNGKey(0)).tolist()) - {0.0})
    [2.0]
    """
    if deterministic is not None:
        training = not deterministic
    x = as_float(x)
    if not training or p == 0.0:
        return x
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if p == 1.0:
        return gnp.zeros_like(x)
    if key is None:
        raise ValueError("dropout in training mode needs a PRNG key: pass key=grilly.random.PRNGKey(...) "
                         "(or training=False / model.eval() for inference)")
    keep = bernoulli(key, 1.0 - p, x.shape)
    return gnp.where(keep, x * (1.0 / (1.0 - p)), 0.0)
