"""Attention, convolution and pooling in grilly.functional against NumPy formulas, with gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.functional as F
from grilly.test_util import check_grads


def np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -1e30)
    if mask is not None:
        s = np.where(mask, s, -1e30) if mask.dtype == bool else s + mask
    e = np.exp(s - s.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def _qkv(rng, shape_q, shape_k, dtype=np.float32):
    q = rng.standard_normal(shape_q)
    k, v = rng.standard_normal(shape_k), rng.standard_normal(shape_k)
    return [a.astype(dtype) for a in (q, k, v)]


def test_attention_scores(rng):
    q, k, _ = _qkv(rng, (2, 3, 4), (2, 5, 4))
    np.testing.assert_allclose(np.asarray(F.attention_scores(q, k)), q @ np.swapaxes(k, -1, -2) / 2, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(F.attention_scores(q, k, scale=1.0)), q @ np.swapaxes(k, -1, -2),
                               rtol=1e-5)
    q4, k4, _ = _qkv(rng, (2, 3, 2, 4), (2, 5, 2, 4))  # (batch, seq, heads, head_dim) -> (batch, heads, sq, sk)
    want = np.einsum("bqhd,bkhd->bhqk", q4, k4) / 2
    np.testing.assert_allclose(np.asarray(F.attention_scores(q4, k4)), want, rtol=1e-5, atol=1e-6)
    got = F.attention_scores(q4.reshape(2, 3, 8), k4.reshape(2, 5, 8), num_heads=2)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa(rng, causal):
    q, k, v = _qkv(rng, (2, 3, 5, 4), (2, 3, 5, 4))
    mask = rng.random((5, 5)) > 0.3
    np.testing.assert_allclose(np.asarray(F.scaled_dot_product_attention(q, k, v, causal=causal)),
                               np_sdpa(q, k, v, causal=causal), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(F.scaled_dot_product_attention(q, k, v, mask=mask)),
                               np_sdpa(q, k, v, mask=mask), rtol=1e-4, atol=1e-5)
    additive = np.where(mask, 0.0, -1e9).astype(np.float32)
    np.testing.assert_allclose(np.asarray(F.scaled_dot_product_attention(q, k, v, mask=additive)),
                               np_sdpa(q, k, v, mask=mask), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention2_layout(rng, causal):
    q, k, v = _qkv(rng, (2, 5, 3, 4), (2, 7, 3, 4))  # (batch, seq, heads, head_dim), seq_q != seq_k
    t = lambda a: np.swapaxes(a, 1, 2)  # noqa: E731
    want = t(np_sdpa(t(q), t(k), t(v), causal=causal))
    np.testing.assert_allclose(np.asarray(F.flash_attention2(q, k, v, causal=causal)), want, rtol=1e-4, atol=1e-5)
    want = t(np_sdpa(t(q), t(k), t(v), scale=0.3))
    np.testing.assert_allclose(np.asarray(F.flash_attention2(q, k, v, scale=0.3)), want, rtol=1e-4, atol=1e-5)
    with pytest.raises(grilly.ShapeError):
        F.flash_attention2(q[0, 0], k[0, 0], v[0, 0])


def np_mha(x, n_heads, ws, bs, mask=None, causal=False):
    q, k, v = (x @ w.T + b for w, b in zip(ws[:3], bs[:3]))
    split = lambda a: np.swapaxes(a.reshape(a.shape[:-1] + (n_heads, -1)), -3, -2)  # noqa: E731
    o = np_sdpa(split(q), split(k), split(v), mask=mask, causal=causal)
    o = np.swapaxes(o, -3, -2)
    return o.reshape(o.shape[:-2] + (-1,)) @ ws[3].T + bs[3]


@pytest.mark.parametrize("shape", [(6, 8), (2, 6, 8), (2, 2, 6, 8)])
def test_multi_head_attention(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    ws = [rng.standard_normal((8, 8)).astype(np.float32) / 3 for _ in range(4)]
    bs = [rng.standard_normal(8).astype(np.float32) for _ in range(4)]
    mask = rng.random((6, 6)) > 0.3
    for kw in ({}, {"causal": True}, {"mask": mask}):
        got = F.multi_head_attention(x, x, x, 2, *ws, *bs, **kw)
        np.testing.assert_allclose(np.asarray(got), np_mha(x, 2, ws, bs, **kw), rtol=1e-4, atol=1e-4)
    additive = np.where(mask, 0.0, -1e9).astype(np.float32)  # the composed (non-fused) path
    got = F.multi_head_attention(x, x, x, 2, *ws, *bs, mask=additive)
    np.testing.assert_allclose(np.asarray(got), np_mha(x, 2, ws, bs, mask=mask), rtol=1e-4, atol=1e-4)


def test_attention_grads(rng, x64):
    q, k, v = _qkv(rng, (2, 3, 4), (2, 5, 4), np.float64)
    check_grads(F.attention_scores, (q, k), order=2)
    check_grads(lambda q, k: F.attention_scores(q, k, num_heads=2), (q, k), order=1)
    check_grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, causal=True), (q, k[:, :3], v[:, :3]),
                order=2)
    q, k, v = _qkv(rng, (1, 3, 2, 4), (1, 4, 2, 4), np.float64)
    check_grads(lambda q, k, v: F.flash_attention2(q, k, v, causal=True), (q, k, v), order=1, modes=("rev",))
    x = rng.standard_normal((3, 4))
    ws = [rng.standard_normal((4, 4)) for _ in range(4)]
    check_grads(lambda x, wq: F.multi_head_attention(x, x, x, 2, wq, *ws[1:]), (x, ws[0]), order=1,
                modes=("rev",))


# ---- convolution and pooling ------------------------------------------------------------------------------


def np_conv(x, w, stride, pad, dilation, groups):
    """Direct N-d cross-correlation, (N, C, *S) x (O, C/g, *K)."""
    n = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    N, C = x.shape[:2]
    O, Cg = w.shape[:2]
    K = w.shape[2:]
    out_sp = [(x.shape[2 + i] - dilation[i] * (K[i] - 1) - 1) // stride[i] + 1 for i in range(n)]
    out = np.zeros((N, O, *out_sp))
    for o in range(O):
        g = o // (O // groups)
        for idx in np.ndindex(*out_sp):
            sl = tuple(slice(idx[i] * stride[i], idx[i] * stride[i] + dilation[i] * (K[i] - 1) + 1, dilation[i])
                       for i in range(n))
            patch = x[(slice(None), slice(g * Cg, (g + 1) * Cg)) + sl]
            out[(slice(None), o) + idx] = (patch * w[o]).reshape(N, -1).sum(1)
    return out


@pytest.mark.parametrize("stride,pad,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2)])
def test_conv1d_conv2d(rng, stride, pad, dilation, groups):
    x1, w1 = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 4 // groups, 3))
    b = rng.standard_normal(6)
    got = F.conv1d(x1.astype(np.float32), w1.astype(np.float32), b.astype(np.float32), stride, pad, dilation,
                   groups)
    want = np_conv(x1, w1, (stride,), (pad,), (dilation,), groups) + b[:, None]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)
    x2, w2 = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 4 // groups, 3, 2))
    got = F.conv2d(x2.astype(np.float32), w2.astype(np.float32), None, stride, pad, dilation, groups)
    want = np_conv(x2, w2, (stride,) * 2, (pad,) * 2, (dilation,) * 2, groups)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


def test_conv_same_padding_and_unbatched(rng):
    x, w = rng.standard_normal((3, 8, 8)).astype(np.float32), rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    got = F.conv2d(x, w, padding="same")
    assert got.shape == (5, 8, 8)
    np.testing.assert_allclose(np.asarray(got), np_conv(x[None], w, (1, 1), (1, 1), (1, 1), 1)[0], rtol=1e-4,
                               atol=1e-4)


def test_conv_grads(rng, x64):
    x, w, b = rng.standard_normal((1, 2, 5)), rng.standard_normal((3, 2, 2)), rng.standard_normal(3)
    check_grads(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), (x, w, b), order=1)
    x2, w2 = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 1, 2, 2))
    check_grads(lambda x, w: F.conv2d(x, w, groups=2), (x2, w2), order=1)


def np_pool(x, k, s, p, reduce):
    n = len(k)
    fill = -np.inf if reduce == "max" else 0.0
    x = np.pad(x, [(0, 0)] * (x.ndim - n) + [(q, q) for q in p], constant_values=fill)
    out_sp = [(x.shape[x.ndim - n + i] - k[i]) // s[i] + 1 for i in range(n)]
    out = np.zeros(x.shape[:x.ndim - n] + tuple(out_sp))
    for idx in np.ndindex(*out_sp):
        sl = tuple(slice(idx[i] * s[i], idx[i] * s[i] + k[i]) for i in range(n))
        win = x[(Ellipsis,) + sl].reshape(x.shape[:x.ndim - n] + (-1,))
        out[(Ellipsis,) + idx] = win.max(-1) if reduce == "max" else win.mean(-1)
    return out


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (3, 1, 0)])
def test_pooling(rng, k, s, p):
    x1, x2 = rng.standard_normal((2, 3, 9)), rng.standard_normal((2, 3, 7, 8))
    ss = k if s is None else s
    for fn, x, n, red in ((F.max_pool1d, x1, 1, "max"), (F.avg_pool1d, x1, 1, "avg"),
                          (F.max_pool2d, x2, 2, "max"), (F.avg_pool2d, x2, 2, "avg")):
        got = fn(x.astype(np.float32), k, s, p)
        np.testing.assert_allclose(np.asarray(got), np_pool(x, (k,) * n, (ss,) * n, (p,) * n, red), rtol=1e-5,
                                   atol=1e-6, err_msg=fn.__name__)


def test_pool_grads(rng, x64):
    x = rng.standard_normal((1, 2, 6, 6))
    check_grads(lambda x: F.max_pool2d(x, 2), (x,), order=1)
    check_grads(lambda x: F.avg_pool2d(x, 3, 2, 1), (x,), order=2)
    check_grads(lambda x: F.max_pool1d(x, 3, 2), (x[0, :, 0],), order=1)


def test_vmap_matches_a_loop(rng):
    # vmap over fused and composed functional ops equals stacking per-example results
    x = rng.standard_normal((3, 4, 8)).astype(np.float32)
    w = [rng.standard_normal((8, 8)).astype(np.float32) / 3 for _ in range(4)]
    cases = [
        lambda a: F.layer_norm(a, 8),
        lambda a: F.softmax(a),
        lambda a: F.multi_head_attention(a, a, a, 2, *w, causal=True),
        lambda a: F.flash_attention2(a[None, :, None], a[None, :, None], a[None, :, None])[0, :, 0],
        lambda a: F.conv1d(a, np.ones((2, 4, 3), np.float32), padding=1),
    ]
    for fn in cases:
        got = np.asarray(grilly.vmap(fn)(x))
        want = np.stack([np.asarray(fn(x[i])) for i in range(3)])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
