"""The transformer pieces converted HuggingFace models are made of: ``grilly.nn.Module`` pytrees (parameters
are leaves, configuration is static) over grilly.functional, so a converted model can be passed straight to
``grilly.jit``, ``grilly.grad``, ``grilly.vmap``, the optimizers and checkpoints.

Weights keep PyTorch's layout (``Linear.weight`` is ``(out, in)``), so a state dict maps over one to one.

>>> import grilly.numpy as gnp
>>> lin = Linear(gnp.ones((2, 3)), gnp.zeros((2,)))
>>> lin(gnp.ones((4, 3))).shape
(4, 2)
"""

from __future__ import annotations

import math

import grilly.functional as F
import grilly.lax as lax
import grilly.numpy as gnp
from grilly.nn.module import Module, static


class Linear(Module):
    weight: object  # (out, in)
    bias: object = None

    def __call__(self, x):
        return F.linear(x, self.weight, self.bias)


class LayerNorm(Module):
    weight: object
    bias: object
    eps: float = static(default=1e-5)

    def __call__(self, x):
        return F.layer_norm(x, None, self.weight, self.bias, self.eps)


class Embedding(Module):
    weight: object  # (num_embeddings, dim)

    def __call__(self, ids):
        return F.embedding(ids, self.weight)


def gelu(x):
    """Exact GELU, ``0.5 x (1 + erf(x / sqrt 2))`` (BERT's "gelu")."""
    return 0.5 * x * (1.0 + lax.erf(x * (1.0 / math.sqrt(2.0))))


def gelu_tanh(x):
    """The tanh approximation of GELU (GPT-2's "gelu_new")."""
    return 0.5 * x * (1.0 + gnp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


ACTIVATIONS = {
    "gelu": gelu, "gelu_new": gelu_tanh, "gelu_pytorch_tanh": gelu_tanh, "gelu_fast": gelu_tanh,
    "relu": lambda x: gnp.maximum(x, 0.0), "tanh": gnp.tanh, "silu": lambda x: x * lax.logistic(x),
    "swish": lambda x: x * lax.logistic(x),
}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unsupported activation {name!r}; supported: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[name]


def softmax(x, axis: int = -1):
    return lax.softmax(x, axis=axis)


def split_heads(x, num_heads: int):
    """(B, S, H*D) -> (B, S, H, D)."""
    b, s, hd = x.shape
    return gnp.reshape(x, (b, s, num_heads, hd // num_heads))


def attention(q, k, v, mask=None, causal: bool = False):
    """Scaled dot-product attention over (B, S, H, D) heads, one fused kernel (``lax.flash_attention``);
    ``mask`` is boolean (True = attend), broadcastable to (B, H, Sq, Sk). Returns (B, S, H*D)."""
    out = lax.flash_attention(q, k, v, causal=causal, mask=mask)
    b, s, h, dh = out.shape
    return gnp.reshape(out, (b, s, h * dh))


def mean_pooling(hidden, attention_mask):
    """Mean of the token vectors that the mask keeps (sentence-transformers' "mean" pooling).

    >>> import grilly.numpy as gnp
    >>> mean_pooling(gnp.ones((1, 3, 2)), gnp.asarray([[1, 1, 0]])).tolist()
    [[1.0, 1.0]]
    """
    m = gnp.asarray(attention_mask).astype(hidden.dtype)[..., None]
    return gnp.sum(hidden * m, axis=1) / gnp.maximum(gnp.sum(m, axis=1), 1e-9)


def l2_normalize(x, axis: int = -1, eps: float = 1e-12):
    """``x / max(||x||, eps)`` (torch.nn.functional.normalize)."""
    return x / gnp.maximum(gnp.sqrt(gnp.sum(x * x, axis=axis, keepdims=True)), eps)
