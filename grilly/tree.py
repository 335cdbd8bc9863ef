"""Pytree helpers over optree, in the namespace "grilly" (so modules and optimizer states register there).

>>> import grilly
>>> grilly.tree.map(lambda x: x * 2, {"a": 1, "b": (2, 3)})
{'a': 2, 'b': (4, 6)}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optree

NAMESPACE = "grilly"


def flatten(tree, is_leaf: Callable | None = None):
    """Leaves and a treedef; ``None`` is an empty subtree, as in JAX."""
    return optree.tree_flatten(tree, is_leaf=is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def unflatten(treedef, leaves):
    return optree.tree_unflatten(treedef, leaves)


def leaves(tree, is_leaf: Callable | None = None) -> list:
    return optree.tree_leaves(tree, is_leaf=is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def structure(tree, is_leaf: Callable | None = None):
    return optree.tree_structure(tree, is_leaf=is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def map(f: Callable, tree, *rest, is_leaf: Callable | None = None):  # noqa: A001
    return optree.tree_map(f, tree, *rest, is_leaf=is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def map_with_path(f: Callable, tree, *rest, is_leaf: Callable | None = None):
    return optree.tree_map_with_path(f, tree, *rest, is_leaf=is_leaf, none_is_leaf=False, namespace=NAMESPACE)


def flatten_with_path(tree, is_leaf: Callable | None = None):
    paths, leaves_, treedef = optree.tree_flatten_with_path(tree, is_leaf=is_leaf, none_is_leaf=False,
                                                            namespace=NAMESPACE)
    return list(zip(paths, leaves_)), treedef


def reduce(f: Callable, tree, initializer: Any = None):
    ls = leaves(tree)
    if initializer is None:
        out, ls = ls[0], ls[1:]
    else:
        out = initializer
    for x in ls:
        out = f(out, x)
    return out


def all(tree) -> bool:  # noqa: A001
    return builtins_all(leaves(tree))


def register_node(cls, flatten_fn: Callable, unflatten_fn: Callable) -> None:
    """Register ``cls``: ``flatten_fn(obj) -> (children, aux)``, ``unflatten_fn(aux, children) -> obj``."""
    optree.register_pytree_node(cls, flatten_fn, unflatten_fn, namespace=NAMESPACE)


def register_dataclass(cls, data_fields, meta_fields):
    optree.register_pytree_node(
        cls,
        lambda o: (tuple(getattr(o, f) for f in data_fields), tuple(getattr(o, f) for f in meta_fields)),
        lambda aux, ch: cls(**dict(zip(data_fields, ch)), **dict(zip(meta_fields, aux))),
        namespace=NAMESPACE,
    )
    return cls


def prefix_broadcast(prefix, full_tree, what: str = "argument") -> list:
    """Expand a prefix tree (like vmap's in_axes) to one entry per leaf of ``full_tree``."""
    out = []

    def visit(p, sub):
        n = len(leaves(sub))
        out.extend([p] * n)
        return None

    try:
        optree.tree_map(visit, prefix, full_tree, none_is_leaf=True, namespace=NAMESPACE,
                        is_leaf=lambda x: x is None or isinstance(x, int))
    except ValueError as e:
        raise ValueError(
            f"the {what} specification {prefix!r} does not match the structure of the inputs: {e}") from None
    return out


import builtins as _builtins  # noqa: E402

builtins_all = _builtins.all
