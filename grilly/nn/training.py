"""The functional training step: ``value_and_grad`` + an optax-style optimizer + ``apply_updates``.

>>> import grilly.nn as nn, grilly.optim as optim, grilly.functional as F, numpy as np
>>> model, opt = nn.Linear(2, 1, key=nn.default_key(0)), optim.sgd(0.1)
>>> step = nn.make_train_step(lambda m, x, y: F.mse_loss(m(x), y), opt)
>>> state = opt.init(nn.filter(model))
>>> x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
>>> for _ in range(50):
...     model, state, loss = step(model, state, x, y)
>>> float(loss) < 1e-3
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grilly.nn.filters import combine, is_inexact_array, partition


def make_train_step(loss_fn: Callable[..., Any], optimizer, *, jit: bool = False):
    """``step(model, opt_state, *batch) -> (model, opt_state, loss)`` for ``loss_fn(model, *batch)``.

    Only the float array leaves of the model are trained (``opt_state`` comes from
    ``optimizer.init(nn.filter(model))``). With ``jit=True`` the step is compiled with ``grilly.jit``.
    """
    from grilly.optim.base import apply_updates
    from grilly.transforms.tape import value_and_grad

    def step(model, opt_state, *batch):
        params, rest = partition(model, is_inexact_array)
        loss, grads = value_and_grad(lambda p: loss_fn(combine(p, rest), *batch))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return combine(apply_updates(params, updates), rest), opt_state, loss

    if jit:
        from grilly.transforms.jit import jit as _jit

        return _jit(step)
    return step
