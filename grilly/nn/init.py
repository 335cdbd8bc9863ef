"""Parameter initializers and the default key.

Every layer takes ``key=``; with ``key=None`` it draws the next key of a process-wide default sequence
(``fold_in(PRNGKey(seed), n)`` for the n-th draw), so classic code such as ``nn.Linear(768, 512)`` works, is
reproducible from run to run, and two default-initialized layers still differ. ``manual_seed`` restarts it.

>>> import grilly.nn as nn
>>> nn.manual_seed(0); a = nn.Linear(2, 2)
>>> nn.manual_seed(0); b = nn.Linear(2, 2)
>>> a.weight.tolist() == b.weight.tolist()
True
"""

from __future__ import annotations

import math

import grilly.random as gr
from grilly.core import dtypes

_state = {"seed": 0, "count": 0}


def manual_seed(seed: int) -> None:
    """Restart the default key sequence used by layers created with ``key=None``."""
    _state["seed"], _state["count"] = int(seed), 0


def default_key(seed: int | None = None):
    """``PRNGKey(seed)`` when a seed is given, else the next key of the default sequence."""
    if seed is not None:
        return gr.PRNGKey(seed)
    n = _state["count"]
    _state["count"] += 1
    return gr.fold_in(gr.PRNGKey(_state["seed"]), n)


def resolve_key(key):
    """``key`` itself, or the next default key when it is None."""
    return default_key() if key is None else key


def split(key, num: int = 2) -> list:
    """``num`` keys from ``key`` (or from the default sequence when None), as a Python list."""
    ks = gr.split(resolve_key(key), num)
    return [ks[i] for i in range(num)]


def uniform(key, shape, bound: float, dtype=None):
    """Uniform in [-bound, bound): PyTorch's default for linear and conv layers with bound 1/sqrt(fan_in)."""
    return gr.uniform(key, shape, dtype or dtypes.default_float(), -bound, bound)


def normal(key, shape, std: float = 1.0, dtype=None):
    x = gr.normal(key, shape, dtype or dtypes.default_float())
    return x if std == 1.0 else x * std


def fan_in_bound(fan_in: int) -> float:
    """1/sqrt(fan_in): PyTorch's kaiming_uniform(a=sqrt(5)) bound for weights, and its bias bound."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
