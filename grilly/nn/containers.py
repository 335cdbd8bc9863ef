"""Containers: Sequential and MLP.

>>> import grilly.nn as nn, numpy as np
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
>>> model(np.ones((3, 4), np.float32)).shape
(3, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grilly.functional as F
from grilly.nn import init
from grilly.nn.layers import Dropout, Lambda, Linear
from grilly.nn.module import Module, static


class Sequential(Module):
    """Layers applied in order. Plain functions are wrapped in ``Lambda``. When ``key`` is given it is split
    among the layers (for dropout)."""

    layers: tuple

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            layers = tuple(layers[0])
        self.layers = tuple(m if isinstance(m, Module) else Lambda(m) for m in layers)

    def __call__(self, x, *, key=None):
        keys = [None] * len(self.layers) if key is None else init.split(key, max(len(self.layers), 1))
        for layer, k in zip(self.layers, keys):
            x = layer(x) if k is None else layer(x, key=k)
        return x

    def __getitem__(self, i):
        return Sequential(*self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)


class MLP(Module):
    """A multilayer perceptron: Linear layers of sizes in -> hidden... -> out with ``activation`` between
    (and dropout after each hidden activation when ``dropout > 0``).

    >>> import grilly.nn as nn, numpy as np
    >>> nn.MLP(64, 10, hidden_features=(32, 32))(np.ones((5, 64), np.float32)).shape
    (5, 10)
    """

    layers: tuple
    dropout: Dropout
    activation: Callable = static()
    final_activation: Callable | None = static()

    def __init__(self, in_features: int, out_features: int, hidden_features: int | Sequence[int] = (128,),
                 activation: Callable = F.relu, final_activation: Callable | None = None, dropout: float = 0.0,
                 *, key=None, dtype=None):
        hidden = (int(hidden_features),) if isinstance(hidden_features, int) else tuple(hidden_features)
        sizes = (in_features, *hidden, out_features)
        keys = init.split(key, len(sizes) - 1)
        self.layers = tuple(Linear(a, b, key=k, dtype=dtype) for a, b, k in zip(sizes[:-1], sizes[1:], keys))
        self.dropout = Dropout(dropout)
        self.activation, self.final_activation = activation, final_activation

    def __call__(self, x, *, key=None):
        keys = None if key is None or self.dropout.p == 0 else init.split(key, len(self.layers))
        for i, layer in enumerate(self.layers[:-1]):
            x = self.activation(layer(x))
            if self.dropout.p:
                x = self.dropout(x, key=None if keys is None else keys[i])
        x = self.layers[-1](x)
        return x if self.final_activation is None else self.final_activation(x)
