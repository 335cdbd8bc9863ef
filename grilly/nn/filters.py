"""Splitting a model into trainable and frozen parts (equinox's ``partition`` / ``combine``).

>>> import grilly.nn as nn
>>> model = nn.Linear(3, 2)
>>> params, rest = nn.partition(model, nn.is_inexact_array)
>>> nn.combine(params, rest).weight.shape
(2, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grilly import tree
from grilly.numpy._base import is_array


def is_array_leaf(x) -> bool:
    """True for grilly arrays and tracers."""
    return is_array(x)


def is_inexact_array(x) -> bool:
    """True for floating-point arrays: the leaves that gradients and optimizers act on."""
    return is_array(x) and x.dtype.kind == "f"


def _mask(filter_spec, t):
    """One bool per leaf of ``t``: a callable filter is applied per leaf, a bool pytree (prefix) is used as is."""
    from grilly.nn.module import Module

    if callable(filter_spec) and not isinstance(filter_spec, Module):  # a Module of bools is a mask
        return tree.map(lambda x: bool(filter_spec(x)), t)
    return tree.map(lambda keep, sub: tree.map(lambda _: bool(keep), sub), filter_spec, t,
                    is_leaf=lambda x: isinstance(x, bool))


def partition(t, filter_spec: Callable[[Any], bool] | Any = is_inexact_array):
    """Split ``t`` into two pytrees of the same structure: leaves where the filter is True (others None),
    and the remaining leaves (filtered ones None). ``combine`` puts them back together.

    ``filter_spec`` is a per-leaf predicate, or a pytree of bools shaped like a prefix of ``t``.
    """
    mask = _mask(filter_spec, t)
    keep = tree.map(lambda m, x: x if m else None, mask, t)
    rest = tree.map(lambda m, x: None if m else x, mask, t)
    return keep, rest


def _first_not_none(*xs):
    for x in xs:
        if x is not None:
            return x
    return None


def combine(*trees):
    """Merge pytrees from ``partition``: each leaf is taken from the first tree where it is not None."""
    return tree.map(_first_not_none, *trees, is_leaf=lambda x: x is None)


def filter(t, filter_spec: Callable[[Any], bool] | Any = is_inexact_array):  # noqa: A001
    """The first half of ``partition``: ``t`` with the leaves failing the filter replaced by None."""
    return partition(t, filter_spec)[0]


def tree_at(where: Callable[[Any], Any], t, replace: Any):
    """A copy of module/pytree ``t`` with the node picked by ``where(t)`` replaced (equinox's ``tree_at``).

    >>> import grilly.nn as nn, grilly.numpy as gnp
    >>> lin = nn.Linear(2, 2)
    >>> nn.tree_at(lambda m: m.bias, lin, gnp.zeros(2)).bias.tolist()
    [0.0, 0.0]
    """
    target = where(t)
    found = []

    def swap(x):
        if x is target:
            found.append(True)
            return replace
        return x

    out = tree.map(swap, t, is_leaf=lambda x: x is target)
    if not found:
        raise ValueError("tree_at: where(t) did not select a node of t")
    return out
