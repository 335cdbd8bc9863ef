"""Fused attention and normalization primitives: flash attention (forward and fused backward), row softmax and
layer_norm over the last axis.

Layout of attention operands: (batch, seq, heads, head_dim). ``causal`` lets query i see keys j <= i (top-left
aligned, as torch SDPA's ``is_causal`` and ``jax.nn.dot_product_attention``). ``mask`` is boolean, True = may
attend, shaped (batch or 1, heads or 1, q_len, k_len). A query row that can see no key gives zeros (its
log-sum-exp is -inf). The forward returns the output and the per-row log-sum-exp (float32, (batch, heads,
q_len)); the backward recomputes the probabilities from it, as FlashAttention-2 does.
"""

from __future__ import annotations

import numpy as np

from grilly.core import dtypes
from grilly.core import primitive as P
from grilly.core.aval import ShapedArray
from grilly.core.primitive import Primitive
from grilly.lax._helpers import aval_of, batch_size, bdim_to_front, dtype_error, moveaxis, shape_error

_FLOAT = (np.dtype(np.float32), np.dtype(np.float16), np.dtype(dtypes.bfloat16), np.dtype(np.float64))


def _acc(dtype) -> np.dtype:
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


# ---- flash attention forward -------------------------------------------------------------------------------

flash_attention_p = Primitive("flash_attention", multiple_results=True)


def _check_qkv(name, q, k, v, mask):
    ok = q.ndim == k.ndim == v.ndim == 4 and q.shape[0] == k.shape[0] == v.shape[0]
    ok = ok and q.shape[2] == k.shape[2] == v.shape[2] and q.shape[3] == k.shape[3] and k.shape[1] == v.shape[1]
    if not ok:
        raise shape_error(name, [q, k, v], "q (B, Sq, H, D), k (B, Sk, H, D), v (B, Sk, H, Dv)")
    if not q.dtype == k.dtype == v.dtype or q.dtype not in _FLOAT:
        raise dtype_error(name, [q, k, v], "q, k, v of one floating dtype")
    if mask is not None:
        B, Sq, H, _ = q.shape
        good = (mask.ndim == 4 and mask.dtype == np.bool_ and mask.shape[0] in (1, B) and mask.shape[1] in (1, H)
                and tuple(mask.shape[2:]) == (Sq, k.shape[1]))
        if not good:
            raise shape_error(name, [q, k, mask], "a bool mask of shape (B or 1, H or 1, Sq, Sk)")


def _flash_abstract(q, k, v, *rest, causal, scale, has_mask):
    _check_qkv("flash_attention", q, k, v, rest[0] if has_mask else None)
    B, Sq, H, _ = q.shape
    return [ShapedArray((B, Sq, H, v.shape[3]), q.dtype), ShapedArray((B, H, Sq), _acc(q.dtype))]


def _scores_np(q, k, mask, causal, scale):
    """(B, H, Sq, Sk) scaled scores in the accumulation dtype, -inf where masked."""
    acc = _acc(q.dtype)
    s = np.einsum("bqhd,bkhd->bhqk", q.astype(acc), k.astype(acc)) * acc.type(scale)
    keep = np.ones(s.shape, bool)
    if causal:
        keep &= np.tril(np.ones(s.shape[2:], bool))
    if mask is not None:
        keep &= mask
    return np.where(keep, s, -np.inf), keep


def _probs_np(s, lse):
    """exp(s - lse) with masked entries and key-less rows exactly 0."""
    with np.errstate(invalid="ignore"):
        p = np.exp(s - lse[..., None])
    return np.where(np.isfinite(lse)[..., None] & np.isfinite(s), p, 0)


def _flash_np(q, k, v, *rest, causal, scale, has_mask):
    s, _ = _scores_np(q, k, rest[0] if has_mask else None, causal, scale)
    m = s.max(-1)
    mf = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        lse = np.log(np.exp(s - mf[..., None]).sum(-1)) + mf
    p = _probs_np(s, lse)
    o = np.einsum("bhqk,bkhd->bqhd", p, v.astype(p.dtype))
    return [o.astype(q.dtype), lse.astype(_acc(q.dtype))]


def _flash_vjp(cts, primals, outs, *, causal, scale, has_mask):
    q, k, v, *rest = primals
    grads = [None, None, None]
    if cts[0] is not None:
        grads = flash_attention_bwd_p.bind(q, k, v, outs[0], outs[1], cts[0], *rest, causal=causal, scale=scale,
                                           has_mask=has_mask)
    if cts[1] is not None:  # the log-sum-exp is seen only by higher-order derivatives: unfused, in grilly ops
        from grilly.lax._helpers import add_any
        from grilly.transforms.tape import vjp

        mask = rest[0] if has_mask else None
        _, pull = vjp(lambda q, k: _lse_reference(q, k, mask, causal, scale), q, k)
        gq, gk = pull(cts[1])
        grads = [add_any(grads[0], gq), add_any(grads[1], gk), grads[2]]
    return list(grads) + [None] * len(rest)


def _visible(q, k, mask, causal):
    """Bool (B or 1, H or 1, Sq, Sk): which keys each query sees."""
    import grilly.numpy as gnp

    sq, sk = aval_of(q).shape[1], aval_of(k).shape[1]
    keep = np.tril(np.ones((sq, sk), bool)) if causal else np.ones((sq, sk), bool)
    keep = gnp.asarray(keep[None, None])
    return keep if mask is None else gnp.logical_and(keep, mask)


def _scores(q, k, keep, scale):
    import grilly.numpy as gnp

    s = gnp.einsum("bqhd,bkhd->bhqk", q, k) * scale
    return gnp.where(keep, s, -np.inf)


def _lse_reference(q, k, mask, causal, scale):
    """The row log-sum-exp in grilly ops (-inf for rows that see no key)."""
    import grilly.numpy as gnp

    s = _scores(q, k, _visible(q, k, mask, causal), scale)
    m = gnp.max(s, axis=-1, keepdims=True)
    m = gnp.where(gnp.isfinite(m), lax_stop_gradient(m), 0.0)
    tot = gnp.sum(gnp.exp(s - m), axis=-1)
    seen = tot > 0  # rows that see no key: -inf, with a zero (not NaN) derivative
    return gnp.where(seen, gnp.log(gnp.where(seen, tot, 1.0)) + m[..., 0], -np.inf)


def lax_stop_gradient(x):
    from grilly.transforms.misc import stop_gradient

    return stop_gradient(x)


def _bwd_reference(q, k, v, o, lse, do, mask, causal, scale):
    """flash_attention_bwd in grilly ops (unfused), differentiable in all six operands: its VJP rule."""
    import grilly.numpy as gnp

    keep = _visible(q, k, mask, causal)
    s = _scores(q, k, keep, scale)
    lse_safe = gnp.where(gnp.isfinite(lse), lse, 0.0)[..., None]
    p = gnp.exp(gnp.where(keep, s - lse_safe, -np.inf))
    dv = gnp.einsum("bhqk,bqhd->bkhd", p, do)
    dp = gnp.einsum("bqhd,bkhd->bhqk", do, v)
    delta = gnp.einsum("bqhd,bqhd->bhq", do, o)
    ds = p * (dp - delta[..., None]) * scale
    return gnp.einsum("bhqk,bkhd->bqhd", ds, k), gnp.einsum("bhqk,bqhd->bkhd", ds, q), dv


def _merge_batch(x, d, n):
    """Batch dim ``d`` of ``x`` (size n, or None) merged into its leading dim: (n*B, ...)."""
    from grilly.lax.structural import reshape

    x = bdim_to_front(x, d, n)
    sh = aval_of(x).shape
    return reshape(x, (sh[0] * sh[1], *sh[2:]))


def _merge_mask(mask, d, n, B):
    from grilly.lax.structural import broadcast_in_dim, reshape

    av = aval_of(mask) if d is None else aval_of(moveaxis(mask, d, 0))
    if d is None and av.shape[0] == 1:
        return mask  # the same mask for every batch member
    m = bdim_to_front(mask, d, n)
    sh = aval_of(m).shape
    if sh[1] == 1:
        m = broadcast_in_dim(m, (sh[0], B, *sh[2:]), (0, 1, 2, 3, 4))
    return reshape(m, (n * B, *sh[2:]))


def _split_batch(x, n):
    from grilly.lax.structural import reshape

    sh = aval_of(x).shape
    return reshape(x, (n, sh[0] // n, *sh[1:]))


def _attention_batch(prim, n_dense):
    """vmap: the mapped axis is folded into the attention batch axis, then split off the results."""
    def rule(vals, dims, *, causal, scale, has_mask):
        n = batch_size(vals, dims)
        dense = [_merge_batch(x, d, n) for x, d in zip(vals[:n_dense], dims[:n_dense])]
        if has_mask:
            B = aval_of(vals[0]).shape[0 if dims[0] is None else 1]
            dense.append(_merge_mask(vals[-1], dims[-1], n, B))
        outs = prim.bind(*dense, causal=causal, scale=scale, has_mask=has_mask)
        return [_split_batch(o, n) for o in outs], [0] * len(outs)

    return rule


def _flash_jvp(primals, tangents, *, causal, scale, has_mask):
    """Forward mode, unfused in grilly ops (it materializes the (B, H, Sq, Sk) probabilities):
    dS = (dq k^T + q dk^T) * scale, dlse = rowsum(P * dS), do = (P * (dS - dlse)) v + P dv."""
    import grilly.numpy as gnp

    q, k, v, *rest = primals
    o, lse = flash_attention_p.bind(*primals, causal=causal, scale=scale, has_mask=has_mask)
    tq, tk, tv = tangents[:3]
    if tq is None and tk is None and tv is None:
        return [o, lse], [None, None]
    keep = _visible(q, k, rest[0] if has_mask else None, causal)
    lse_safe = gnp.where(gnp.isfinite(lse), lse, 0.0)[..., None]
    p = gnp.exp(gnp.where(keep, _scores(q, k, keep, scale) - lse_safe, -np.inf))
    t_o, t_lse = None, None
    if tq is not None or tk is not None:
        ds = 0.0
        if tq is not None:
            ds = ds + gnp.einsum("bqhd,bkhd->bhqk", tq, k)
        if tk is not None:
            ds = ds + gnp.einsum("bqhd,bkhd->bhqk", q, tk)
        ds = gnp.where(keep, ds * scale, 0.0)
        t_lse = gnp.sum(p * ds, axis=-1)
        t_o = gnp.einsum("bhqk,bkhd->bqhd", p * (ds - t_lse[..., None]), v)
        t_lse = t_lse.astype(aval_of(lse).dtype)
    if tv is not None:
        pv = gnp.einsum("bhqk,bkhd->bqhd", p, tv)
        t_o = pv if t_o is None else t_o + pv
    return [o, lse], [t_o.astype(aval_of(o).dtype), t_lse]


P.abstract_eval_rules[flash_attention_p] = _flash_abstract
P.impl_rules["numpy"][flash_attention_p] = _flash_np
P.vjp_rules[flash_attention_p] = _flash_vjp
P.jvp_rules[flash_attention_p] = _flash_jvp
P.batch_rules[flash_attention_p] = _attention_batch(flash_attention_p, 3)

# ---- flash attention backward (fused: dq, dk, dv from q, k, v, o, lse, do) ---------------------------------

flash_attention_bwd_p = Primitive("flash_attention_bwd", multiple_results=True)


def _flash_bwd_abstract(q, k, v, o, lse, do, *rest, causal, scale, has_mask):
    _check_qkv("flash_attention_bwd", q, k, v, rest[0] if has_mask else None)
    B, Sq, H, _ = q.shape
    if o.shape != do.shape or o.shape != (B, Sq, H, v.shape[3]) or lse.shape != (B, H, Sq):
        raise shape_error("flash_attention_bwd", [q, v, o, lse, do], "o and do shaped (B, Sq, H, Dv), lse (B, H, Sq)")
    return [q, k, v]


def _flash_bwd_np(q, k, v, o, lse, do, *rest, causal, scale, has_mask):
    acc = _acc(q.dtype)
    s, _ = _scores_np(q, k, rest[0] if has_mask else None, causal, scale)
    p = _probs_np(s, lse.astype(acc))
    do_, o_ = do.astype(acc), o.astype(acc)
    dv = np.einsum("bhqk,bqhd->bkhd", p, do_)
    dp = np.einsum("bqhd,bkhd->bhqk", do_, v.astype(acc))
    delta = np.einsum("bqhd,bqhd->bhq", do_, o_)
    ds = p * (dp - delta[..., None]) * acc.type(scale)
    dq = np.einsum("bhqk,bkhd->bqhd", ds, k.astype(acc))
    dk = np.einsum("bhqk,bqhd->bkhd", ds, q.astype(acc))
    return [dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype)]


def _flash_bwd_vjp(cts, primals, outs, *, causal, scale, has_mask):
    from grilly.lax._helpers import instantiate
    from grilly.transforms.tape import vjp

    q, k, v, o, lse, do, *rest = primals
    mask = rest[0] if has_mask else None
    _, pull = vjp(lambda *a: _bwd_reference(*a, mask, causal, scale), q, k, v, o, lse, do)
    grads = pull(tuple(instantiate(c, x) for c, x in zip(cts, (q, k, v))))
    return list(grads) + [None] * len(rest)


P.abstract_eval_rules[flash_attention_bwd_p] = _flash_bwd_abstract
P.vjp_rules[flash_attention_bwd_p] = _flash_bwd_vjp
P.impl_rules["numpy"][flash_attention_bwd_p] = _flash_bwd_np
P.batch_rules[flash_attention_bwd_p] = _attention_batch(flash_attention_bwd_p, 6)


def flash_attention(q, k, v, causal: bool = False, scale: float | None = None, mask=None):
    """Scaled dot-product attention, softmax(q k^T * scale) v, fused (FlashAttention-2) on Vulkan.

    q: (batch, q_len, heads, head_dim); k, v: (batch, k_len, heads, head_dim); ``scale`` defaults to
    1/sqrt(head_dim); ``mask`` is boolean (True = attend), broadcastable to (batch, heads, q_len, k_len).

    >>> import numpy as np, grilly.lax as lax
    >>> q = np.ones((1, 3, 2, 4), np.float32)
    >>> np.asarray(lax.flash_attention(q, q, q, causal=True)).shape
    (1, 3, 2, 4)
    """
    from grilly.core.array import asarray_concrete
    from grilly.lax.structural import broadcast_to, reshape

    qa = aval_of(q)
    scale = float(1.0 / np.sqrt(qa.shape[-1]) if scale is None else scale)
    args = [q, k, v]
    if mask is not None:
        if not hasattr(mask, "aval"):
            mask = asarray_concrete(np.asarray(mask))
        ma = aval_of(mask)
        if ma.dtype != np.bool_:
            raise dtype_error("flash_attention", [ma], "a bool mask (True = attend)")
        if ma.ndim > 4:
            raise shape_error("flash_attention", [qa, ma], "a mask of rank <= 4")
        mask = reshape(mask, (1,) * (4 - ma.ndim) + tuple(ma.shape))
        B, Sq, H, _ = qa.shape
        ms = aval_of(mask).shape
        mask = broadcast_to(mask, (ms[0], ms[1], Sq, aval_of(k).shape[1]))
        args.append(mask)
    out, _ = flash_attention_p.bind(*args, causal=bool(causal), scale=scale, has_mask=mask is not None)
    return out


# ---- row softmax over the last axis ------------------------------------------------------------------------

softmax_p = Primitive("softmax")


def _row_abstract(name):
    def rule(x, *_, **__):
        if x.ndim == 0 or x.dtype not in _FLOAT:
            raise dtype_error(name, [x], "a floating operand of rank >= 1")
        return x

    return rule


def _softmax_np(x):
    a = x.astype(_acc(x.dtype))
    m = a.max(-1, keepdims=True)
    e = np.exp(a - np.where(np.isfinite(m), m, 0))
    return (e / e.sum(-1, keepdims=True)).astype(x.dtype)


def _softmax_vjp(cts, primals, outs, **_):
    g, y = cts[0], outs[0]
    if g is None:
        return [None]
    import grilly.numpy as gnp

    return [y * (g - gnp.sum(g * y, axis=-1, keepdims=True))]


def _softmax_jvp(primals, tangents):
    import grilly.numpy as gnp

    y = softmax_p.bind(primals[0])
    t = tangents[0]
    return [y], [None if t is None else y * (t - gnp.sum(t * y, axis=-1, keepdims=True))]


def _softmax_batch(vals, dims):
    return [softmax_p.bind(moveaxis(vals[0], dims[0], 0))], [0]


P.abstract_eval_rules[softmax_p] = _row_abstract("softmax")
P.impl_rules["numpy"][softmax_p] = _softmax_np
P.vjp_rules[softmax_p] = _softmax_vjp
P.jvp_rules[softmax_p] = _softmax_jvp
P.batch_rules[softmax_p] = _softmax_batch


def softmax(x, axis: int = -1):
    """Numerically stable softmax along ``axis`` (one fused row kernel on Vulkan).

    >>> import numpy as np, grilly.lax as lax
    >>> np.asarray(lax.softmax(np.zeros((2, 4), np.float32)))[0].tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    nd = aval_of(x).ndim
    axis = axis % nd
    if axis == nd - 1:
        return softmax_p.bind(x)
    return moveaxis(softmax_p.bind(moveaxis(x, axis, nd - 1)), nd - 1, axis)


# ---- layer_norm over the last axis -------------------------------------------------------------------------

layer_norm_p = Primitive("layer_norm")


def _layer_norm_abstract(x, gamma, beta, *, eps):
    _row_abstract("layer_norm")(x)
    if gamma.shape != (x.shape[-1],) or beta.shape != gamma.shape or not x.dtype == gamma.dtype == beta.dtype:
        raise shape_error("layer_norm", [x, gamma, beta], f"gamma and beta of shape ({x.shape[-1]},), x's dtype")
    return x


def _layer_norm_np(x, gamma, beta, *, eps):
    acc = _acc(x.dtype)
    a = x.astype(acc)
    mu = a.mean(-1, keepdims=True)
    var = ((a - mu) ** 2).mean(-1, keepdims=True)
    y = (a - mu) / np.sqrt(var + acc.type(eps)) * gamma.astype(acc) + beta.astype(acc)
    return y.astype(x.dtype)


def _normalized(x, eps):
    """(xhat, rstd) of layer_norm in grilly ops: xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps)."""
    import grilly.numpy as gnp

    xc = x - gnp.mean(x, axis=-1, keepdims=True)
    rstd = 1.0 / gnp.sqrt(gnp.mean(xc * xc, axis=-1, keepdims=True) + eps)
    return xc * rstd, rstd


def _layer_norm_vjp(cts, primals, outs, *, eps):
    g = cts[0]
    x, gamma, _ = primals
    if g is None:
        return [None, None, None]
    import grilly.numpy as gnp

    xhat, rstd = _normalized(x, eps)
    lead = tuple(range(aval_of(x).ndim - 1))
    dgamma = gnp.sum(g * xhat, axis=lead)
    dbeta = gnp.sum(g, axis=lead)
    dxhat = g * gamma
    dx = rstd * (dxhat - gnp.mean(dxhat, axis=-1, keepdims=True)
                 - xhat * gnp.mean(dxhat * xhat, axis=-1, keepdims=True))
    return [dx, dgamma, dbeta]


def _layer_norm_batch(vals, dims, *, eps):
    import grilly.numpy as gnp

    x, gamma, beta = vals
    n = batch_size(vals, dims)
    if dims[1] is None and dims[2] is None:
        return [layer_norm_p.bind(moveaxis(x, dims[0], 0) if dims[0] is not None else x, gamma, beta, eps=eps)], [
            0 if dims[0] is not None else None]
    # per-member affine parameters: normalise with unit gamma / zero beta, then apply them by broadcasting
    xb = bdim_to_front(x, dims[0], n)
    d = aval_of(xb).shape[-1]
    one = gnp.ones((d,), aval_of(xb).dtype)
    y = layer_norm_p.bind(xb, one, gnp.zeros((d,), aval_of(xb).dtype), eps=eps)
    nd = aval_of(xb).ndim
    gb = gnp.reshape(bdim_to_front(gamma, dims[1], n), (n,) + (1,) * (nd - 2) + (d,))
    bb = gnp.reshape(bdim_to_front(beta, dims[2], n), (n,) + (1,) * (nd - 2) + (d,))
    return [y * gb + bb], [0]


def _layer_norm_jvp(primals, tangents, *, eps):
    """dy = gamma * rstd * (dx - mean(dx) - xhat * mean(xhat * dx)) + xhat * dgamma + dbeta."""
    import grilly.numpy as gnp

    x, gamma, beta = primals
    y = layer_norm_p.bind(x, gamma, beta, eps=eps)
    tx, tg, tb = tangents
    if tx is None and tg is None and tb is None:
        return [y], [None]
    xhat, rstd = _normalized(x, eps)
    t = gnp.zeros_like(y)
    if tx is not None:
        t = t + gamma * rstd * (tx - gnp.mean(tx, axis=-1, keepdims=True)
                                - xhat * gnp.mean(xhat * tx, axis=-1, keepdims=True))
    if tg is not None:
        t = t + xhat * tg
    if tb is not None:
        t = t + tb
    return [y], [t.astype(aval_of(y).dtype)]


P.abstract_eval_rules[layer_norm_p] = _layer_norm_abstract
P.impl_rules["numpy"][layer_norm_p] = _layer_norm_np
P.vjp_rules[layer_norm_p] = _layer_norm_vjp
P.jvp_rules[layer_norm_p] = _layer_norm_jvp
P.batch_rules[layer_norm_p] = _layer_norm_batch


def layer_norm(x, gamma=None, beta=None, eps: float = 1e-5):
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis (one fused row kernel on Vulkan).

    >>> import numpy as np, grilly.lax as lax
    >>> np.round(np.asarray(lax.layer_norm(np.array([[1.0, 3.0]], np.float32))), 3).tolist()
    [[-1.0, 1.0]]
    """
    import grilly.numpy as gnp

    av = aval_of(x)
    d = av.shape[-1]
    gamma = gnp.ones((d,), av.dtype) if gamma is None else gamma
    beta = gnp.zeros((d,), av.dtype) if beta is None else beta
    return layer_norm_p.bind(x, gamma, beta, eps=float(eps))
