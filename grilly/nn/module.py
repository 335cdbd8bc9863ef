"""``Module``: an immutable pytree (equinox-style). Dataclass fields are the pytree's children, except the
fields declared with ``static(...)``, which are configuration kept in the treedef. Parameters are the array
leaves, so ``grad``, ``jit``, ``vmap``, optimizers and checkpoints all see a model as a tree of arrays.

>>> import grilly, grilly.nn as nn, grilly.numpy as gnp
>>> class Scale(nn.Module):
...     w: object
...     name: str = nn.static(default="scale")
...     def __call__(self, x, *, key=None):
...         return self.w * x
>>> m = Scale(gnp.asarray(2.0))
>>> float(grilly.grad(lambda m: m(3.0))(m).w)
3.0
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from grilly import tree
from grilly.numpy._base import is_array

_initializing: dict[int, int] = {}  # id(instance) -> depth of __init__ calls running on it


def static(default=dataclasses.MISSING, **kwargs) -> Any:
    """A dataclass field holding configuration (ints, strings, callables): part of the treedef, not a leaf."""
    metadata = dict(kwargs.pop("metadata", {}) or {}, static=True)
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def field(default=dataclasses.MISSING, **kwargs) -> Any:
    """An ordinary (pytree child) dataclass field."""
    return dataclasses.field(default=default, **kwargs)


def _wrap_init(init):
    @functools.wraps(init)
    def __init__(self, *args, **kwargs):  # noqa: N807
        key = id(self)
        _initializing[key] = _initializing.get(key, 0) + 1
        try:
            init(self, *args, **kwargs)
        finally:
            _initializing[key] -= 1
            if not _initializing[key]:
                del _initializing[key]
        if key not in _initializing:
            _check_fields(self)

    __init__._grilly_wrapped = True
    return __init__


class Module:
    """Base class of all layers: subclasses become dataclasses registered as pytrees.

    Write ``__init__`` freely (assign ``self.x = ...`` inside it); afterwards the instance is frozen. Use
    ``module.replace(field=value)``, ``tree.map`` or ``nn.tree_at`` to make modified copies.
    """

    _custom_init = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._custom_init = cls._custom_init or "__init__" in cls.__dict__  # inherited custom inits are kept
        dataclasses.dataclass(cls, init=not cls._custom_init, repr=False, eq=False)
        if not getattr(cls.__init__, "_grilly_wrapped", False):
            cls.__init__ = _wrap_init(cls.__init__)
        fields = dataclasses.fields(cls)
        cls._dynamic_fields = tuple(f.name for f in fields if not f.metadata.get("static"))
        cls._static_fields = tuple(f.name for f in fields if f.metadata.get("static"))
        tree.register_node(cls, _flatten, functools.partial(_unflatten, cls))

    def __setattr__(self, name: str, value) -> None:
        if id(self) not in _initializing:
            raise dataclasses.FrozenInstanceError(
                f"cannot assign to field {name!r}: {type(self).__name__} is immutable; make a modified copy "
                f"with module.replace({name}=...) or nn.tree_at")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        parts = []
        for name in self._dynamic_fields + self._static_fields:
            v = getattr(self, name, None)
            parts.append(f"{name}={_short(v)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def replace(self, **changes):
        """A copy with some fields changed (``__init__`` is not re-run).

        >>> import grilly.nn as nn
        >>> nn.Dropout(0.5).replace(p=0.1).p
        0.1
        """
        unknown = set(changes) - set(self._dynamic_fields) - set(self._static_fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no fields {sorted(unknown)}")
        new = object.__new__(type(self))
        for name in self._dynamic_fields + self._static_fields:
            object.__setattr__(new, name, changes.get(name, getattr(self, name)))
        return new

    # ---- conveniences over the pytree view -----------------------------------------------------------------

    def parameters(self) -> list:
        """The array leaves (PyTorch's ``model.parameters()``), in pytree order.

        The list remembers its module, so classic stateful optimizers (``optim.Adam(model.parameters())``)
        write their updates back into it; see ``docs/nn.md``.
        """
        from grilly.nn.classic import Parameters

        return Parameters(self)

    def named_parameters(self) -> list[tuple[str, Any]]:
        """(dotted path, leaf) pairs, as PyTorch's ``named_parameters()``."""
        pairs, _ = tree.flatten_with_path(self)
        return [(".".join(str(p) for p in path), leaf) for path, leaf in pairs if is_array(leaf)]

    def train(self, mode: bool = True):
        """A copy with every submodule's ``training`` flag set to ``mode`` (this module is unchanged)."""
        return set_training(self, mode)

    def eval(self):
        """A copy in inference mode (dropout off): ``train(False)``."""
        return set_training(self, False)

    def zero_grad(self) -> None:
        """Forget gradients recorded by ``Loss.backward()`` for this model (classic API)."""
        from grilly.nn.classic import grads_of

        grads_of(self).clear()


def _check_fields(m: Module) -> None:
    names = set(m._dynamic_fields) | set(m._static_fields)
    missing = [n for n in names if n not in m.__dict__ and not hasattr(type(m), n)]
    extra = [n for n in m.__dict__ if n not in names]
    if missing or extra:
        what = (f"fields {sorted(missing)} were not set" if missing else
                f"attributes {sorted(extra)} are not declared as fields (annotate them in the class body)")
        raise TypeError(f"{type(m).__name__}.__init__: {what}")


def _short(v) -> str:
    if is_array(v):
        return f"{v.dtype}{list(v.shape)}"
    if isinstance(v, tuple | list) and len(v) > 4:
        return f"{type(v).__name__}(len={len(v)})"
    return repr(v)


def _flatten(m: Module):
    return (tuple(getattr(m, f) for f in m._dynamic_fields),
            tuple(getattr(m, f) for f in m._static_fields),
            m._dynamic_fields)  # path entries: the field names


def _unflatten(cls, aux, children):
    obj = object.__new__(cls)
    for name, value in zip(cls._dynamic_fields, children):
        object.__setattr__(obj, name, value)
    for name, value in zip(cls._static_fields, aux):
        object.__setattr__(obj, name, value)
    return obj


def is_module(x) -> bool:
    return isinstance(x, Module)


def map_modules(fn: Callable[[Module], Module], t):
    """Apply ``fn`` bottom-up to every Module inside the pytree ``t`` (children first)."""

    def visit(node):
        if not isinstance(node, Module):
            return node
        new = object.__new__(type(node))
        for name in node._dynamic_fields:
            object.__setattr__(new, name, tree.map(visit, getattr(node, name), is_leaf=is_module))
        for name in node._static_fields:
            object.__setattr__(new, name, getattr(node, name))
        return fn(new)

    return tree.map(visit, t, is_leaf=is_module)


def set_training(t, mode: bool):
    """A copy of ``t`` with the static ``training`` field of every module that has one set to ``mode``."""

    def flip(m):
        if "training" in m._static_fields:
            object.__setattr__(m, "training", bool(mode))
        return m

    return map_modules(flip, t)
