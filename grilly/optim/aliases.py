"""Ready-made optimizers (optax's names and defaults), each a chain of transforms ending in ``-learning_rate``.

>>> import grilly, grilly.optim as optim, grilly.numpy as gnp
>>> opt = optim.adam(0.1)
>>> x = gnp.asarray(3.0)
>>> state = opt.init(x)
>>> for _ in range(200):
...     updates, state = opt.update(grilly.grad(lambda x: x * x)(x), state, x)
...     x = optim.apply_updates(x, updates)
>>> abs(float(x)) < 1e-2
True
"""

from __future__ import annotations

from grilly.optim.base import GradientTransformation, chain
from grilly.optim.transforms import (
    add_decayed_weights,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    trace,
)


def sgd(learning_rate, momentum: float | None = None, nesterov: bool = False) -> GradientTransformation:
    """Stochastic gradient descent, with optional (Nesterov) momentum as PyTorch's SGD (dampening 0)."""
    if momentum is None:
        return chain(scale_by_learning_rate(learning_rate))
    return chain(trace(momentum, nesterov), scale_by_learning_rate(learning_rate))


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0):
    """Adam (Kingma & Ba)."""
    return chain(scale_by_adam(b1, b2, eps, eps_root), scale_by_learning_rate(learning_rate))


def adamw(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-4):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``-lr * (adam_direction + wd * params)``."""
    return chain(scale_by_adam(b1, b2, eps), add_decayed_weights(weight_decay),
                 scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate, decay: float = 0.9, eps: float = 1e-8, momentum: float | None = None,
            nesterov: bool = False):
    """RMSprop: ``g / (sqrt(E[g^2]) + eps)``, optionally with momentum."""
    parts = [scale_by_rms(decay, eps)]
    if momentum is not None:
        parts.append(trace(momentum, nesterov))
    return chain(*parts, scale_by_learning_rate(learning_rate))


def adagrad(learning_rate, initial_accumulator_value: float = 0.0, eps: float = 1e-10):
    """Adagrad: ``g / (sqrt(sum g^2) + eps)``."""
    return chain(scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(learning_rate))
