"""Basic layers: Linear, Embedding, normalization, Dropout, activations, Identity, Lambda, Flatten.

>>> import grilly.nn as nn, numpy as np
>>> nn.Linear(768, 512)(np.ones((32, 768), np.float32)).shape
(32, 512)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grilly.functional as F
import grilly.numpy as gnp
from grilly.core import dtypes
from grilly.nn import init
from grilly.nn.module import Module, static


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features), initialized as PyTorch does
    (uniform in +-1/sqrt(in_features)).

    >>> import grilly.nn as nn, grilly.random as gr
    >>> nn.Linear(3, 2, key=gr.PRNGKey(0)).weight.shape
    (2, 3)
    """

    weight: Any
    bias: Any
    in_features: int = static()
    out_features: int = static()

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, key=None, dtype=None):
        wkey, bkey = init.split(key)
        bound = init.fan_in_bound(in_features)
        self.weight = init.uniform(wkey, (out_features, in_features), bound, dtype)
        self.bias = init.uniform(bkey, (out_features,), bound, dtype) if bias else None
        self.in_features, self.out_features = int(in_features), int(out_features)

    def __call__(self, x, *, key=None):
        return F.linear(x, self.weight, self.bias)


class Embedding(Module):
    """A lookup table (num_embeddings, embedding_dim), initialized N(0, 1) as PyTorch.

    ``vocab_size`` is accepted as another name for ``num_embeddings``.

    >>> import grilly.nn as nn, numpy as np
    >>> nn.Embedding(vocab_size=10, embedding_dim=4)(np.array([1, 2])).shape
    (2, 4)
    """

    weight: Any
    num_embeddings: int = static()
    embedding_dim: int = static()

    def __init__(self, num_embeddings: int | None = None, embedding_dim: int | None = None, *,
                 vocab_size: int | None = None, weight=None, key=None, dtype=None):
        num_embeddings = vocab_size if num_embeddings is None else num_embeddings
        if weight is not None:
            weight = gnp.asarray(weight)
            num_embeddings, embedding_dim = weight.shape
        if num_embeddings is None or embedding_dim is None:
            raise TypeError("Embedding needs num_embeddings (or vocab_size) and embedding_dim, or a weight")
        self.weight = init.normal(init.resolve_key(key), (num_embeddings, embedding_dim), 1.0, dtype) \
            if weight is None else weight
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)

    def __call__(self, ids, *, key=None):
        return F.embedding(ids, self.weight)


def _shape(s) -> tuple[int, ...]:
    return (int(s),) if isinstance(s, int) else tuple(int(d) for d in s)


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dims, with learned weight and bias.

    >>> import grilly.nn as nn, numpy as np
    >>> nn.LayerNorm(4)(np.arange(8.0).reshape(2, 4)).shape
    (2, 4)
    """

    weight: Any
    bias: Any
    normalized_shape: tuple = static()
    eps: float = static()

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 *, key=None, dtype=None):
        shape = _shape(normalized_shape)
        dt = dtype or dtypes.default_float()
        self.weight = gnp.ones(shape, dt) if elementwise_affine else None
        self.bias = gnp.zeros(shape, dt) if elementwise_affine and bias else None
        self.normalized_shape, self.eps = shape, float(eps)

    def __call__(self, x, *, key=None):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class RMSNorm(Module):
    """Root-mean-square normalization over the trailing ``normalized_shape`` dims, with a learned weight."""

    weight: Any
    normalized_shape: tuple = static()
    eps: float = static()

    def __init__(self, normalized_shape, eps: float = 1e-6, elementwise_affine: bool = True, *, key=None,
                 dtype=None):
        shape = _shape(normalized_shape)
        self.weight = gnp.ones(shape, dtype or dtypes.default_float()) if elementwise_affine else None
        self.normalized_shape, self.eps = shape, float(eps)

    def __call__(self, x, *, key=None):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)


class Dropout(Module):
    """Dropout with probability ``p``; active while ``training`` (set by ``model.train()`` / ``model.eval()``),
    and then it needs ``key=``.

    >>> import grilly.nn as nn, numpy as np
    >>> nn.Dropout(p=0.1).eval()(np.ones(2)).tolist()
    [1.0, 1.0]
    """

    p: float = static(default=0.5)
    training: bool = static(default=True)

    def __call__(self, x, *, key=None):
        return F.dropout(x, self.p, key, training=self.training)


class Lambda(Module):
    """Wrap a parameter-free function (kept static) as a layer, e.g. ``nn.Lambda(F.relu)``."""

    fn: Callable = static()

    def __call__(self, x, *, key=None):
        return self.fn(x)


class Identity(Module):
    def __call__(self, x, *, key=None):
        return x


class Flatten(Module):
    """Flatten dims ``start_dim`` .. ``end_dim`` into one (PyTorch's default keeps the batch dim)."""

    start_dim: int = static(default=1)
    end_dim: int = static(default=-1)

    def __call__(self, x, *, key=None):
        x = gnp.asarray(x)
        s, e = self.start_dim % x.ndim, self.end_dim % x.ndim
        return gnp.reshape(x, x.shape[:s] + (-1,) + x.shape[e + 1:])


class ReLU(Module):
    def __call__(self, x, *, key=None):
        return F.relu(x)


class GELU(Module):
    approximate: str = static(default="none")

    def __call__(self, x, *, key=None):
        return F.gelu(x, approximate=self.approximate)


class SiLU(Module):
    def __call__(self, x, *, key=None):
        return F.silu(x)


class Sigmoid(Module):
    def __call__(self, x, *, key=None):
        return F.sigmoid(x)


class Tanh(Module):
    def __call__(self, x, *, key=None):
        return F.tanh(x)


class LeakyReLU(Module):
    negative_slope: float = static(default=0.01)

    def __call__(self, x, *, key=None):
        return F.leaky_relu(x, self.negative_slope)


class Softmax(Module):
    dim: int = static(default=-1)

    def __call__(self, x, *, key=None):
        return F.softmax(x, axis=self.dim)
