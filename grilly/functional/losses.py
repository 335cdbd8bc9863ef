"""Loss functions, each with a PyTorch-style ``reduction`` ("mean", "sum" or "none").

>>> import grilly.functional as F, numpy as np
>>> round(float(F.cross_entropy(np.zeros((2, 4)), np.array([0, 3]))), 4)
1.3863
"""

from __future__ import annotations

import grilly.numpy as gnp
from grilly.core.errors import ShapeError
from grilly.functional._util import as_float, asarray, reduce_loss
from grilly.functional.activations import log_softmax, softplus
from grilly.functional.linear import one_hot


def cross_entropy(logits, target, label_smoothing: float = 0.0, reduction: str = "mean"):
    """Softmax cross-entropy with classes on the last axis of ``logits``.

    ``target`` is integer class indices of shape ``logits.shape[:-1]``, or class probabilities of the same
    shape as ``logits``. ``label_smoothing`` mixes the target with the uniform distribution, as PyTorch.

    >>> import grilly.functional as F, numpy as np
    >>> logits = np.array([[2.0, 0.0]])
    >>> a = F.cross_entropy(logits, np.array([0]))
    >>> b = F.cross_entropy(logits, np.array([[1.0, 0.0]]))
    >>> abs(float(a) - float(b)) < 1e-6
    True
    """
    logp = log_softmax(logits, axis=-1)
    target = asarray(target)
    num_classes = logp.shape[-1]
    if target.dtype.kind in "iub":
        if target.shape != logp.shape[:-1]:
            raise ShapeError(f"cross_entropy: integer targets {target.shape} must have shape logits.shape[:-1] "
                             f"= {logp.shape[:-1]}")
        probs = one_hot(target, num_classes, logp.dtype)
    else:
        if target.shape != logp.shape:
            raise ShapeError(f"cross_entropy: probability targets {target.shape} must match logits {logp.shape}")
        probs = gnp.astype(target, logp.dtype)
    if label_smoothing:
        probs = probs * (1.0 - label_smoothing) + label_smoothing / num_classes
    return reduce_loss(-gnp.sum(probs * logp, axis=-1), reduction)


def nll_loss(log_probs, target, reduction: str = "mean"):
    """Negative log-likelihood of integer ``target`` under ``log_probs`` (classes on the last axis)."""
    log_probs = as_float(log_probs)
    picked = gnp.sum(one_hot(target, log_probs.shape[-1], log_probs.dtype) * log_probs, axis=-1)
    return reduce_loss(-picked, reduction)


def mse_loss(prediction, target, reduction: str = "mean"):
    """Mean squared error.

    >>> import grilly.functional as F
    >>> float(F.mse_loss([1.0, 2.0], [1.0, 4.0]))
    2.0
    """
    d = as_float(prediction) - as_float(target)
    return reduce_loss(d * d, reduction)


def l1_loss(prediction, target, reduction: str = "mean"):
    """Mean absolute error."""
    return reduce_loss(gnp.abs(as_float(prediction) - as_float(target)), reduction)


def binary_cross_entropy(probs, target, reduction: str = "mean"):
    """``-(t log p + (1 - t) log(1 - p))``; the logs are clamped at -100 as in PyTorch.

    >>> import grilly.functional as F
    >>> round(float(F.binary_cross_entropy([0.5], [1.0])), 4)
    0.6931
    """
    p, t = as_float(probs), as_float(target)
    log_p = gnp.maximum(gnp.log(p), -100.0)
    log_1mp = gnp.maximum(gnp.log(1.0 - p), -100.0)
    return reduce_loss(-(t * log_p + (1.0 - t) * log_1mp), reduction)


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean"):
    """``binary_cross_entropy(sigmoid(logits), target)`` computed stably: softplus(x) - t x.

    >>> import grilly.functional as F
    >>> round(float(F.binary_cross_entropy_with_logits([0.0], [1.0])), 4)
    0.6931
    """
    x, t = as_float(logits), as_float(target)
    return reduce_loss(softplus(x) - t * x, reduction)
