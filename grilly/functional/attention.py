"""Attention: scores, scaled dot-product attention, multi-head attention and flash_attention2.

Layouts: ``scaled_dot_product_attention`` takes (..., seq, head_dim) as PyTorch (so (batch, heads, seq, dim)
works); ``flash_attention2`` takes (batch, seq, heads, head_dim) as the flash-attn library.

>>> import grilly.functional as F, numpy as np
>>> q = np.ones((1, 4, 2, 8), np.float32)
>>> F.flash_attention2(q, q, q, causal=True).shape
(1, 4, 2, 8)
"""

from __future__ import annotations

import math

import grilly.numpy as gnp
from grilly.core import dtypes
from grilly.core.errors import ShapeError
from grilly.functional._util import as_float, asarray
from grilly.functional.activations import softmax
from grilly.functional.linear import linear
from grilly.functional.normalization import dropout
from grilly.lax.attention import flash_attention as lax_flash_attention


def _scores(q, k, scale):
    """(..., seq_q, d) x (..., seq_k, d) -> (..., seq_q, seq_k), scaled."""
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"attention: query {q.shape} and key {k.shape} differ in head_dim")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return gnp.matmul(q * scale, gnp.swapaxes(k, -1, -2))


def attention_scores(query, key, scale: float | None = None, num_heads: int | None = None):
    """Scaled similarity ``query @ key^T * scale`` (default ``1 / sqrt(head_dim)``), before the softmax.

    Layouts, as grilly's classic kernel and ``flash_attention2``: (batch, seq, heads, head_dim) inputs (rank 4
    or more) give (batch, heads, seq_q, seq_k); (batch, seq, heads * head_dim) with ``num_heads`` is split into
    heads first; inputs of rank 2 or 3 without ``num_heads`` are one head, (..., seq, dim) -> (..., seq_q, seq_k).

    >>> import grilly.functional as F, numpy as np
    >>> F.attention_scores(np.ones((1, 4)), np.ones((2, 4))).tolist()
    [[2.0, 2.0]]
    >>> F.attention_scores(np.ones((2, 5, 3, 8)), np.ones((2, 7, 3, 8))).shape
    (2, 3, 5, 7)
    """
    q, k = as_float(query), as_float(key)
    if num_heads is not None:
        q, k = _heads_last(q, num_heads), _heads_last(k, num_heads)
    if q.ndim >= 4 or num_heads is not None:
        q, k = gnp.swapaxes(q, -3, -2), gnp.swapaxes(k, -3, -2)
    return _scores(q, k, scale)


def _causal_mask(seq_q: int, seq_k: int):
    """True where query i may attend to key j: j <= i (top-left aligned, as PyTorch)."""
    return gnp.tril(gnp.ones((seq_q, seq_k), dtype=dtypes.bool_))


def _apply_mask(scores, mask, causal: bool):
    if causal:
        scores = gnp.where(_causal_mask(scores.shape[-2], scores.shape[-1]), scores, _neg_big(scores))
    if mask is None:
        return scores
    mask = asarray(mask)
    if mask.dtype == dtypes.bool_:
        return gnp.where(mask, scores, _neg_big(scores))
    return scores + mask  # an additive float mask (0 keeps, -inf drops), as PyTorch


def _neg_big(x):
    """A large finite negative: fully masked rows become uniform instead of NaN."""
    return float(gnp.finfo(x.dtype).min) / 2


def scaled_dot_product_attention(query, key, value, mask=None, causal: bool = False, scale: float | None = None,
                                 dropout_p: float = 0.0, dropout_key=None):
    """``softmax(query @ key^T * scale + mask) @ value``.

    Shapes: query (..., seq_q, d), key (..., seq_k, d), value (..., seq_k, d_v) -> (..., seq_q, d_v).
    ``mask`` is boolean (True = attend) or additive float, broadcastable to (..., seq_q, seq_k); ``causal``
    lets query i see keys j <= i. Dropout on the attention weights needs ``dropout_key``.

    >>> import grilly.functional as F, numpy as np
    >>> v = np.array([[1.0], [3.0]])
    >>> F.scaled_dot_product_attention(np.zeros((1, 2)), np.zeros((2, 2)), v).tolist()
    [[2.0]]
    """
    scores = _apply_mask(_scores(as_float(query), as_float(key), scale), mask, causal)
    weights = softmax(scores, axis=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, dropout_key)
    return gnp.matmul(weights, as_float(value))


def flash_attention2(query, key, value, causal: bool = False, scale: float | None = None):
    """Attention with layout (batch, seq, heads, head_dim) for query, key and value (any leading dims work).

    The result is that of ``scaled_dot_product_attention`` on the (..., heads, seq, head_dim) transposes;
    backends with a fused tiled kernel compute it without materializing the (seq, seq) scores.

    >>> import grilly.functional as F, numpy as np
    >>> F.flash_attention2(np.ones((2, 3, 4, 8)), np.ones((2, 5, 4, 8)), np.ones((2, 5, 4, 8))).shape
    (2, 3, 4, 8)
    """
    q, k, v = as_float(query), as_float(key), as_float(value)
    if q.ndim < 3 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ShapeError(f"flash_attention2: expected (batch, seq, heads, head_dim) inputs, got {q.shape}, "
                         f"{k.shape}, {v.shape}")
    return _flash(q, k, v, causal=causal, scale=scale)


def _flash(q, k, v, causal=False, scale=None, mask=None):
    """lax.flash_attention on (..., seq, heads, dim): leading dims are folded into one batch dim."""
    lead = q.shape[:-3]
    if len(lead) != 1:
        q, k, v = (gnp.reshape(t, (-1,) + t.shape[-3:]) for t in (q, k, v))
    dt = dtypes.result_type(q.dtype, k.dtype, v.dtype)
    out = lax_flash_attention(gnp.astype(q, dt), gnp.astype(k, dt), gnp.astype(v, dt), causal=causal,
                              scale=scale, mask=mask)
    return gnp.reshape(out, lead + out.shape[1:]) if len(lead) != 1 else out


def split_heads(x, num_heads: int):
    """(..., seq, heads * d) -> (..., heads, seq, d)."""
    if x.shape[-1] % num_heads:
        raise ShapeError(f"embedding size {x.shape[-1]} is not divisible by num_heads={num_heads}")
    x = gnp.reshape(x, x.shape[:-1] + (num_heads, x.shape[-1] // num_heads))
    return gnp.swapaxes(x, -3, -2)


def merge_heads(x):
    """(..., heads, seq, d) -> (..., seq, heads * d)."""
    x = gnp.swapaxes(x, -3, -2)
    return gnp.reshape(x, x.shape[:-2] + (x.shape[-2] * x.shape[-1],))


def multi_head_attention(query, key, value, num_heads: int, q_weight, k_weight, v_weight, out_weight,
                         q_bias=None, k_bias=None, v_bias=None, out_bias=None, mask=None, causal: bool = False,
                         scale: float | None = None):
    """Multi-head attention with PyTorch-layout projections (each weight (out_features, in_features)).

    Inputs (..., seq, embed); ``mask`` broadcastable to (..., heads, seq_q, seq_k) or (seq_q, seq_k).

    >>> import grilly.functional as F, numpy as np
    >>> x, w = np.ones((5, 4), np.float32), np.eye(4, dtype=np.float32)
    >>> F.multi_head_attention(x, x, x, 2, w, w, w, w).shape
    (5, 4)
    """
    q, k, v = linear(query, q_weight, q_bias), linear(key, k_weight, k_bias), linear(value, v_weight, v_bias)
    if mask is None or asarray(mask).dtype == dtypes.bool_:  # fused path: heads stay in (seq, heads, dim)
        qh, kh, vh = (_heads_last(t, num_heads) for t in (q, k, v))
        unbatched = qh.ndim == 3
        if unbatched:
            qh, kh, vh = (gnp.expand_dims(t, 0) for t in (qh, kh, vh))
        m = None if mask is None else _flash_mask(asarray(mask), qh.shape[:-3])
        out = _flash(qh, kh, vh, causal=causal, scale=scale, mask=m)
        out = out[0] if unbatched else out
        out = gnp.reshape(out, out.shape[:-2] + (out.shape[-2] * out.shape[-1],))
    else:
        out = scaled_dot_product_attention(split_heads(q, num_heads), split_heads(k, num_heads),
                                           split_heads(v, num_heads), mask=mask, causal=causal, scale=scale)
        out = merge_heads(out)
    return linear(out, out_weight, out_bias)


def _heads_last(x, num_heads: int):
    """(..., seq, heads * d) -> (..., seq, heads, d): the flash-attention layout, a free reshape."""
    if x.shape[-1] % num_heads:
        raise ShapeError(f"embedding size {x.shape[-1]} is not divisible by num_heads={num_heads}")
    return gnp.reshape(x, x.shape[:-1] + (num_heads, x.shape[-1] // num_heads))


def _flash_mask(mask, lead):
    """A bool mask for (*lead, heads, seq_q, seq_k) in lax.flash_attention's (B or 1, H or 1, Sq, Sk) form."""
    if len(lead) == 1 or mask.ndim <= 3:
        return mask
    mask = gnp.broadcast_to(mask, lead + mask.shape[-3:])
    return gnp.reshape(mask, (-1,) + mask.shape[-3:])
