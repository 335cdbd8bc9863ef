"""Elastic weight consolidation (Kirkpatrick et al., 2017) with a diagonal Fisher.

Diagonal empirical Fisher of parameters ``theta`` from per-example gradients ``g_n = grad log p(y_n | x_n, theta)``
(or of any per-example loss):

    F = (1/N) sum_n g_n * g_n          (elementwise square)

Penalty keeping ``theta`` close to the anchor ``theta*`` learnt on an earlier task:

    P(theta) = (lambda / 2) sum_i F_i (theta_i - theta*_i)^2

Across tasks ``t = 1 .. T`` the penalties add up: ``sum_t P_t``. ``EWCState(online=True)`` keeps one running
Fisher instead (online EWC, Schwarz et al., 2018): ``F <- gamma F + F_t`` with the latest anchor.
All parameter arguments are pytrees (dicts, lists, arrays).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import grilly
import grilly.numpy as gnp
from grilly import tree
from grilly.core.array import Array

PyTree = Any


def fisher_from_gradients(gradients: list) -> PyTree:
    """Diagonal Fisher ``mean_n g_n**2`` from a list of gradient pytrees (one per example or batch).

    >>> import grilly.numpy as gnp
    >>> fisher_from_gradients([{"w": gnp.asarray([1.0, 2.0])}, {"w": gnp.asarray([3.0, 0.0])}])["w"].tolist()
    [5.0, 2.0]
    """
    if not gradients:
        raise ValueError("fisher_from_gradients: need at least one gradient")
    total = tree.map(gnp.square, gradients[0])
    for g in gradients[1:]:
        total = tree.map(lambda a, b: a + gnp.square(b), total, g)
    return tree.map(lambda a: a / float(len(gradients)), total)


def fisher_diagonal(loss_fn: Callable, params: PyTree, *data, batch_size: int | None = None) -> PyTree:
    """Diagonal empirical Fisher of ``loss_fn(params, *example)`` over the examples in ``data``.

    ``data`` are arrays with a leading example axis; per-example gradients come from ``vmap(grad(loss_fn))``
    over blocks of ``batch_size`` examples (all at once by default).

    >>> import grilly.numpy as gnp
    >>> loss = lambda w, x: 0.5 * gnp.sum(w * x) ** 2
    >>> F = fisher_diagonal(loss, gnp.asarray([1.0, 1.0]), gnp.asarray([[1.0, 0.0], [0.0, 2.0]]))
    >>> F.tolist()
    [0.5, 8.0]
    """
    per_example = grilly.vmap(grilly.grad(loss_fn), in_axes=(None,) + (0,) * len(data))
    n = gnp.asarray(data[0]).shape[0]
    step = batch_size or n
    total = None
    for start in range(0, n, step):
        grads = per_example(params, *[d[start:start + step] for d in data])
        sq = tree.map(lambda g: gnp.sum(gnp.square(g), axis=0), grads)
        total = sq if total is None else tree.map(lambda a, b: a + b, total, sq)
    return tree.map(lambda a: a / float(n), total)


def ewc_penalty(params: PyTree, anchor: PyTree, fisher: PyTree, strength: float = 1.0) -> Array:
    """``(strength / 2) sum_i F_i (theta_i - theta*_i)^2`` summed over all leaves (a scalar).

    >>> import grilly.numpy as gnp
    >>> float(ewc_penalty(gnp.asarray([1.0, 3.0]), gnp.asarray([0.0, 1.0]), gnp.asarray([2.0, 1.0]), 2.0))
    6.0
    """
    terms = tree.leaves(tree.map(lambda p, a, f: gnp.sum(f * gnp.square(p - a)), params, anchor, fisher))
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return 0.5 * strength * total


@dataclasses.dataclass(frozen=True)
class EWCState:
    """Consolidated tasks: a list of ``(anchor, fisher)`` pairs, or one running pair when ``online``.

    >>> import grilly.numpy as gnp
    >>> state = EWCState(strength=2.0)
    >>> state = state.consolidate(gnp.asarray([1.0]), gnp.asarray([3.0]))
    >>> float(state.penalty(gnp.asarray([2.0])))
    3.0
    """

    strength: float = 1.0
    online: bool = False
    gamma: float = 1.0
    tasks: tuple = ()

    def consolidate(self, params: PyTree, fisher: PyTree) -> EWCState:
        """Add a finished task: its parameters become an anchor weighted by its Fisher."""
        params = tree.map(grilly.stop_gradient, params)
        if self.online and self.tasks:
            _, old_fisher = self.tasks[0]
            merged = tree.map(lambda a, b: self.gamma * a + b, old_fisher, fisher)
            return dataclasses.replace(self, tasks=((params, merged),))
        return dataclasses.replace(self, tasks=self.tasks + ((params, fisher),))

    def penalty(self, params: PyTree) -> Array:
        """``sum_t (strength / 2) sum_i F_t,i (theta_i - theta*_t,i)^2`` (0 before any task is consolidated)."""
        if not self.tasks:
            return gnp.zeros(())
        total = None
        for anchor, fisher in self.tasks:
            p = ewc_penalty(params, anchor, fisher, self.strength)
            total = p if total is None else total + p
        return total


tree.register_node(EWCState, lambda s: ((s.tasks,), (s.strength, s.online, s.gamma)),
                   lambda aux, ch: EWCState(aux[0], aux[1], aux[2], ch[0]))
