"""grilly.optim: optax-style gradient transformations and the classic stateful optimizers.

>>> import grilly, grilly.optim as optim, grilly.nn as nn, grilly.functional as F, numpy as np
>>> model = nn.Linear(3, 1, key=nn.default_key(0))
>>> opt = optim.adam(1e-2)
>>> state = opt.init(model)
>>> x, y = np.ones((4, 3), np.float32), np.zeros((4, 1), np.float32)
>>> grads = grilly.grad(lambda m: F.mse_loss(m(x), y))(model)
>>> updates, state = opt.update(grads, state, model)
>>> model = optim.apply_updates(model, updates)
"""

from grilly.optim.aliases import adagrad, adam, adamw, rmsprop, sgd
from grilly.optim.base import EmptyState, GradientTransformation, apply_updates, chain, global_norm
from grilly.optim.classic import NLMS, SGD, Adagrad, Adam, AdamW, NaturalGradient, Optimizer, RMSprop
from grilly.optim.schedules import (
    constant,
    constant_schedule,
    cosine_decay,
    cosine_decay_schedule,
    exponential_decay,
    linear,
    linear_schedule,
    warmup_cosine,
    warmup_cosine_decay_schedule,
)
from grilly.optim.transforms import (
    ScaleByAdamState,
    TraceState,
    add_decayed_weights,
    clip_by_global_norm,
    natural_gradient,
    nlms,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    scale_by_rss,
    trace,
)

__all__ = [
    "NLMS", "SGD", "Adagrad", "Adam", "AdamW", "EmptyState", "GradientTransformation", "NaturalGradient",
    "Optimizer", "RMSprop", "ScaleByAdamState", "TraceState", "adagrad", "adam", "adamw", "add_decayed_weights",
    "apply_updates", "chain", "clip_by_global_norm", "constant", "constant_schedule", "cosine_decay",
    "cosine_decay_schedule", "exponential_decay", "global_norm", "linear", "linear_schedule", "natural_gradient",
    "nlms", "rmsprop", "scale", "scale_by_adam", "scale_by_learning_rate", "scale_by_rms", "scale_by_rss", "sgd",
    "trace", "warmup_cosine", "warmup_cosine_decay_schedule",
]
