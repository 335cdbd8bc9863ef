"""Multi-head attention and the Transformer encoder layer.

>>> import grilly.nn as nn, numpy as np
>>> attention = nn.Attention(embed_dim=16, num_heads=4)
>>> attention(np.ones((5, 16), np.float32)).shape
(5, 16)
"""

from __future__ import annotations

import grilly.functional as F
from grilly.nn import init
from grilly.nn.layers import Dropout, LayerNorm, Linear
from grilly.nn.module import Module, static


class MultiHeadAttention(Module):
    """Multi-head attention over inputs (..., seq, embed_dim) (any leading batch dims, or none).

    Call as ``attn(x)`` for self-attention or ``attn(query, key_, value)`` for cross-attention;
    ``mask`` is boolean (True = attend) or additive, broadcastable to (..., heads, seq_q, seq_k).
    The PRNG keyword is ``key`` (unused here: attention-weight dropout is not applied).
    """

    q_proj: Linear
    k_proj: Linear
    v_proj: Linear
    out_proj: Linear
    embed_dim: int = static()
    num_heads: int = static()

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, *, kdim: int | None = None,
                 vdim: int | None = None, key=None, dtype=None):
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        kq, kk, kv, ko = init.split(key, 4)
        self.q_proj = Linear(embed_dim, embed_dim, bias, key=kq, dtype=dtype)
        self.k_proj = Linear(kdim or embed_dim, embed_dim, bias, key=kk, dtype=dtype)
        self.v_proj = Linear(vdim or embed_dim, embed_dim, bias, key=kv, dtype=dtype)
        self.out_proj = Linear(embed_dim, embed_dim, bias, key=ko, dtype=dtype)
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)

    def __call__(self, query, key_=None, value=None, *, mask=None, causal: bool = False, key=None):
        key_ = query if key_ is None else key_
        value = key_ if value is None else value
        p = (self.q_proj, self.k_proj, self.v_proj, self.out_proj)
        return F.multi_head_attention(query, key_, value, self.num_heads, *(m.weight for m in p),
                                      *(m.bias for m in p), mask=mask, causal=causal)


Attention = MultiHeadAttention


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and layer norm, as
    torch.nn.TransformerEncoderLayer with batch_first inputs (..., seq, d_model). ``norm_first`` selects
    pre-norm. Dropout is active while ``training`` and then needs ``key=``.
    """

    self_attn: MultiHeadAttention
    linear1: Linear
    linear2: Linear
    norm1: LayerNorm
    norm2: LayerNorm
    dropout: Dropout
    activation: str = static()
    norm_first: bool = static()

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, norm_first: bool = False, *,
                 key=None, dtype=None):
        if activation not in ("relu", "gelu"):
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        ka, k1, k2 = init.split(key, 3)
        self.self_attn = MultiHeadAttention(d_model, nhead, key=ka, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, key=k1, dtype=dtype)
        self.linear2 = Linear(dim_feedforward, d_model, key=k2, dtype=dtype)
        self.norm1 = LayerNorm(d_model, layer_norm_eps, dtype=dtype)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.activation, self.norm_first = activation, bool(norm_first)

    def _drop(self, x, keys, i):
        return self.dropout(x, key=None if keys is None else keys[i])

    def __call__(self, src, *, mask=None, causal: bool = False, key=None):
        act = F.relu if self.activation == "relu" else F.gelu
        keys = None if key is None or not self.dropout.training else init.split(key, 3)

        def sa(x):
            return self._drop(self.self_attn(x, mask=mask, causal=causal), keys, 0)

        def ff(x):
            return self._drop(self.linear2(self._drop(act(self.linear1(x)), keys, 1)), keys, 2)

        x = src
        if self.norm_first:
            x = x + sa(self.norm1(x))
            return x + ff(self.norm2(x))
        x = self.norm1(x + sa(x))
        return self.norm2(x + ff(x))
