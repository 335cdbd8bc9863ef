"""PyTorch-flavoured constructors that make grilly arrays: ``tensor``, ``zeros``, ``ones``, ``randn``, ``rand``,
``arange``, ``cat``, ``stack``, ``from_numpy``, ``to_numpy``.

``randn``/``rand`` draw from a process-wide key (``manual_seed`` resets it), as torch's global generator does;
code that wants reproducible, traceable randomness passes explicit keys to ``grilly.random`` instead.

>>> manual_seed(0)
>>> randn((2, 3)).shape
(2, 3)
>>> zeros((2,)).tolist(), tensor([1, 2, 3]).dtype
([0.0, 0.0], dtype('int32'))
"""

from __future__ import annotations

import grilly.numpy as gnp
import grilly.random as gr
from grilly.core.array import Array
from grilly.utils.tensor_conversion import to_numpy, to_vulkan

_key: list = []


def manual_seed(seed: int) -> None:
    """Reset the key that ``randn``/``rand`` draw from."""
    _key[:] = [gr.PRNGKey(seed)]


def _next_key():
    if not _key:
        manual_seed(0)
    _key[0], sub = gr.split(_key[0])
    return sub


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], tuple | list):
        return tuple(size[0])
    return tuple(size)


def tensor(data, dtype=None) -> Array:
    """An array from data: a scalar, a nested list, a NumPy array or a torch tensor (dtype kept)."""
    return to_vulkan(data, dtype=dtype)


def from_numpy(a) -> Array:
    return to_vulkan(a)


def zeros(*size, dtype=None) -> Array:
    """``zeros((2, 3))`` or ``zeros(2, 3)``."""
    return gnp.zeros(_shape(size), dtype=dtype)


def ones(*size, dtype=None) -> Array:
    return gnp.ones(_shape(size), dtype=dtype)


def randn(*size, dtype=None) -> Array:
    """Standard normal samples, ``randn((hidden,))`` or ``randn(2, 3)``."""
    return gr.normal(_next_key(), _shape(size), dtype=dtype)


def rand(*size, dtype=None) -> Array:
    """Uniform samples in [0, 1)."""
    return gr.uniform(_next_key(), _shape(size), dtype=dtype)


def arange(start, stop=None, step=1, dtype=None) -> Array:
    return gnp.arange(start, stop, step, dtype=dtype)


def cat(arrays, dim: int = 0) -> Array:
    return gnp.concatenate([to_vulkan(a) for a in arrays], axis=dim)


def stack(arrays, dim: int = 0) -> Array:
    return gnp.stack([to_vulkan(a) for a in arrays], axis=dim)


__all__ = ["arange", "cat", "from_numpy", "manual_seed", "ones", "rand", "randn", "stack", "tensor", "to_numpy",
           "zeros"]
