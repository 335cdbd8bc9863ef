"""``GradientTransformation``: an optax-style ``(init, update)`` pair that is itself a pytree.

Its float hyperparameters (learning rate, betas, ...) are pytree leaves and its functions are static, so an
optimizer can be passed into a ``grilly.jit`` function and a new learning rate does not retrace.

>>> import grilly.optim as optim, grilly.numpy as gnp
>>> opt = optim.sgd(0.1)
>>> params = {"w": gnp.asarray([1.0, 2.0])}
>>> state = opt.init(params)
>>> updates, state = opt.update({"w": gnp.asarray([1.0, 1.0])}, state, params)
>>> [round(v, 4) for v in optim.apply_updates(params, updates)["w"].tolist()]
[0.9, 1.9]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import grilly.numpy as gnp
from grilly import tree
from grilly.numpy._base import is_array


def _is_child(v) -> bool:
    """Float hyperparameters, arrays and inner transformations are pytree leaves/children; the rest is static."""
    if isinstance(v, bool):
        return False
    if isinstance(v, float) or is_array(v) or isinstance(v, GradientTransformation):
        return True
    return isinstance(v, tuple) and bool(v) and all(isinstance(t, GradientTransformation) for t in v)


class GradientTransformation:
    """``init(params) -> state`` and ``update(updates, state, params=None) -> (updates, state)``.

    Built-in transformations pass their hyperparameters as keywords (``init(params, **hyper)``,
    ``update(updates, state, params, **hyper)``); ``GradientTransformation(init, update)`` with plain optax
    signatures works too.
    """

    __slots__ = ("init_fn", "update_fn", "hyperparams")

    def __init__(self, init: Callable, update: Callable, **hyperparams):
        self.init_fn, self.update_fn, self.hyperparams = init, update, hyperparams

    def init(self, params):
        return self.init_fn(params, **self.hyperparams)

    def update(self, updates, state, params=None):
        return self.update_fn(updates, state, params, **self.hyperparams)

    def replace(self, **hyperparams) -> GradientTransformation:
        """A copy with some hyperparameters changed (same pytree structure when they stay floats)."""
        return GradientTransformation(self.init_fn, self.update_fn, **{**self.hyperparams, **hyperparams})

    def __iter__(self):  # ``init, update = opt`` as with optax's NamedTuple
        return iter((self.init, self.update))

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items() if not isinstance(v, tuple))
        return f"GradientTransformation({getattr(self.update_fn, '__name__', '?')}, {hp})"


def _flatten(t: GradientTransformation):
    items = sorted(t.hyperparams.items())
    names = tuple(k for k, v in items if _is_child(v))
    static = tuple((k, v) for k, v in items if not _is_child(v))
    return tuple(t.hyperparams[k] for k in names), (t.init_fn, t.update_fn, names, static), names


def _unflatten(aux, children):
    init_fn, update_fn, names, static = aux
    return GradientTransformation(init_fn, update_fn, **dict(zip(names, children)), **dict(static))


tree.register_node(GradientTransformation, _flatten, _unflatten)


class EmptyState(NamedTuple):
    pass


def zeros_like_tree(params):
    return tree.map(gnp.zeros_like, params)


def apply_updates(params, updates):
    """``params + updates`` leaf by leaf (each result keeps its parameter's dtype); works on Modules too."""
    return tree.map(lambda p, u: p + gnp.astype(u, gnp.asarray(p).dtype) if u is not None else p,
                    params, updates, is_leaf=lambda x: x is None)


def _init_chain(params, *, transforms):
    return tuple(t.init(params) for t in transforms)


def _update_chain(updates, state, params, *, transforms):
    new_state = []
    for t, s in zip(transforms, state):
        updates, s = t.update(updates, s, params)
        new_state.append(s)
    return updates, tuple(new_state)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply transformations one after the other; the state is the tuple of their states.

    >>> import grilly.optim as optim
    >>> opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-3))
    """
    return GradientTransformation(_init_chain, _update_chain, transforms=tuple(transforms))


def global_norm(t) -> Any:
    """sqrt of the sum of squares of all leaves."""
    leaves = [gnp.asarray(x) for x in tree.leaves(t)]
    return gnp.sqrt(sum(gnp.sum(x * x) for x in leaves)) if leaves else gnp.asarray(0.0)
