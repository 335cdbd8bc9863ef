"""The classic PyTorch-style training loop on grilly's one tape.

``nn.compute_loss(loss_fn, model, *args)`` runs ``grilly.value_and_grad`` (the same tape as ``grilly.grad``)
and returns a ``Loss``; ``loss.backward()`` accumulates that gradient into a slot kept for ``model``; a
classic optimizer built from ``model.parameters()`` reads the slot in ``step()``, writes the updated arrays back
into ``model`` in place (the one place where grilly mutates a module, for classic code), and ``zero_grad()``
clears the slot. There is no second autograd system: ``backward()`` only hands over a gradient already
computed by ``value_and_grad``.

>>> import grilly.nn as nn, grilly.optim as optim, grilly.functional as F, numpy as np
>>> model = nn.Linear(2, 1, key=nn.default_key(0))
>>> x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
>>> optimizer = optim.SGD(model.parameters(), lr=0.1)
>>> for _ in range(50):
...     loss = nn.compute_loss(lambda m: F.mse_loss(m(x), y), model)
...     loss.backward()
...     optimizer.step()
...     optimizer.zero_grad()
>>> float(loss) < 1e-3
True
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from grilly import tree
from grilly.nn.filters import combine, is_inexact_array, partition
from grilly.nn.module import Module


class GradSlot:
    """Accumulated gradients (a pytree shaped like the model's float leaves) and the last loss value."""

    def __init__(self):
        self.grads = None
        self.value = None

    def add(self, grads, value) -> None:
        self.grads = grads if self.grads is None else tree.map(lambda a, b: a + b, self.grads, grads)
        self.value = value

    def clear(self) -> None:
        self.grads = None
        self.value = None


_slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def grads_of(model: Module) -> GradSlot:
    """The gradient slot that ``Loss.backward()`` fills for ``model`` (created on first use)."""
    slot = _slots.get(model)
    if slot is None:
        slot = _slots[model] = GradSlot()
    return slot


class Parameters(list):
    """``model.parameters()``: the model's float array leaves, remembering the model they came from."""

    def __init__(self, module: Module):
        params, _ = partition(module, is_inexact_array)
        super().__init__(tree.leaves(params))
        self.module = module


class Loss:
    """A loss value together with its gradient w.r.t. a model, for ``loss.backward()``-style loops."""

    def __init__(self, value, grads, model: Module, aux=None):
        self.value, self.grads, self.model, self.aux = value, grads, model, aux

    def backward(self) -> None:
        """Accumulate this loss's gradient into the model's slot (read by the classic optimizers)."""
        grads_of(self.model).add(self.grads, self.value)

    def item(self) -> float:
        return float(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __format__(self, spec: str) -> str:
        return format(float(self.value), spec)

    def __repr__(self) -> str:
        return f"Loss({float(self.value):.6g})"


def compute_loss(loss_fn: Callable[..., Any], model: Module, *args, has_aux: bool = False, **kwargs) -> Loss:
    """Evaluate ``loss_fn(model, *args, **kwargs)`` on the tape and return a ``Loss`` with ``.backward()``.

    Only the float array leaves of ``model`` are differentiated (integer buffers are left alone).
    """
    from grilly.transforms.tape import value_and_grad

    params, rest = partition(model, is_inexact_array)

    def f(p):
        return loss_fn(combine(p, rest), *args, **kwargs)

    value, grads = value_and_grad(f, has_aux=has_aux)(params)
    aux = None
    if has_aux:
        value, aux = value
    return Loss(value, grads, model, aux)


def assign_inplace(module: Module, new: Module) -> None:
    """Copy the fields of ``new`` (same structure) into ``module`` itself, recursing into submodules so that
    references held to them see the new values too. Classic-API compatibility only."""
    for name in module._dynamic_fields:
        old_v, new_v = getattr(module, name), getattr(new, name)
        if isinstance(old_v, Module):
            assign_inplace(old_v, new_v)
        elif isinstance(old_v, tuple | list) and old_v and all(isinstance(v, Module) for v in old_v):
            for o, n in zip(old_v, new_v):
                assign_inplace(o, n)
        else:
            object.__setattr__(module, name, new_v)
