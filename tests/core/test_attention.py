"""flash_attention (forward, fused backward), softmax and layer_norm against NumPy formulas, on odd shapes."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import grilly
import grilly.lax as lax
import grilly.numpy as gnp
from grilly.lax.attention import _flash_bwd_np, flash_attention_p
from grilly.test_util import check_grads


def naive_attention(q, k, v, causal=False, scale=None, mask=None):
    """softmax(q k^T * scale) v in float64, written independently of the library's reference."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("bqhd,bkhd->bhqk", q, k) * scale
    keep = np.ones(s.shape, bool)
    if causal:
        keep &= np.arange(s.shape[2])[:, None] >= np.arange(s.shape[3])[None, :]
    if mask is not None:
        keep &= np.broadcast_to(mask, s.shape)
    s = np.where(keep, s, -np.inf)
    m = np.max(s, -1, keepdims=True)
    e = np.where(keep, np.exp(s - np.where(np.isfinite(m), m, 0)), 0)
    den = e.sum(-1, keepdims=True)
    p = e / np.where(den > 0, den, 1)
    return np.einsum("bhqk,bkhd->bqhd", p, v)


def _qkv(rng, B, Sq, Sk, H, D, dtype=np.float32):
    return [rng.standard_normal(s).astype(dtype) for s in ((B, Sq, H, D), (B, Sk, H, D), (B, Sk, H, D))]


CASES = [  # (B, Sq, Sk, H, D): odd sizes, queries and keys of different lengths, the tuned and a generic head dim
    (2, 5, 7, 2, 8),
    (1, 9, 4, 3, 5),
    (1, 3, 70, 1, 64),
    (1, 33, 17, 1, 128),
]


@pytest.mark.parametrize("shape", CASES)
@pytest.mark.parametrize("causal", [False, True])
def test_forward_matches_formula(rng, shape, causal):
    B, Sq, Sk, H, D = shape
    q, k, v = _qkv(rng, *shape)
    got = np.asarray(lax.flash_attention(q, k, v, causal=causal))
    np.testing.assert_allclose(got, naive_attention(q, k, v, causal), atol=2e-5, rtol=1e-4)


def test_mask_scale_and_empty_rows(rng):
    q, k, v = _qkv(rng, 2, 6, 5, 3, 4)
    mask = rng.random((2, 1, 6, 5)) > 0.4
    mask[0, 0, 2] = False  # a query that sees no key at all
    got = np.asarray(lax.flash_attention(q, k, v, causal=True, scale=0.3, mask=mask))
    np.testing.assert_allclose(got, naive_attention(q, k, v, True, 0.3, mask), atol=2e-5, rtol=1e-4)
    assert np.all(got[0, 2] == 0)
    m2 = rng.random((6, 5)) > 0.3  # broadcast over batch and heads
    got = np.asarray(lax.flash_attention(q, k, v, mask=m2))
    np.testing.assert_allclose(got, naive_attention(q, k, v, mask=m2), atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype,tol", [(np.float16, 2e-3), (ml_dtypes.bfloat16, 2e-2)])
def test_forward_low_precision(rng, dtype, tol):
    q, k, v = _qkv(rng, 1, 7, 9, 2, 64, dtype)
    got = np.asarray(lax.flash_attention(q, k, v, causal=True)).astype(np.float32)
    np.testing.assert_allclose(got, naive_attention(q, k, v, True), atol=tol, rtol=tol)


def _loss(w, causal, mask=None):
    return lambda q, k, v: gnp.sum(lax.flash_attention(q, k, v, causal=causal, mask=mask) * w)


@pytest.mark.parametrize("causal", [False, True])
def test_check_grads(x64, rng, causal):
    q, k, v = (a.astype(np.float64) for a in _qkv(rng, 1, 4, 5, 2, 3))
    w = rng.standard_normal((1, 4, 2, 3))
    mask = rng.random((1, 2, 4, 5)) > 0.3
    check_grads(_loss(w, causal, mask), (q, k, v), order=1, modes=("rev",))


@pytest.mark.parametrize("causal", [False, True])
def test_forward_mode(x64, rng, causal):
    q, k, v = (a.astype(np.float64) for a in _qkv(rng, 2, 4, 5, 2, 3))
    w = rng.standard_normal((2, 4, 2, 3))
    mask = rng.random((2, 1, 4, 5)) > 0.3
    mask[1, 0, 2] = False  # a query that sees nothing
    check_grads(_loss(w, causal, mask), (q, k, v), order=2, modes=("fwd",))

    def lse(q, k):  # every row sees a key: a finite log-sum-exp
        return gnp.sum(flash_attention_p.bind(q, k, v, causal=causal, scale=0.5, has_mask=False)[1] * 0.1)

    check_grads(lse, (q, k), order=1, modes=("fwd", "rev"))


def test_second_order(x64, rng):
    q, k, v = (a.astype(np.float64) for a in _qkv(rng, 1, 3, 4, 2, 3))
    w = rng.standard_normal((1, 3, 2, 3))
    mask = rng.random((1, 1, 3, 4)) > 0.3
    mask[0, 0, 1] = False  # a query that sees nothing
    check_grads(_loss(w, True, mask), (q, k, v), order=2, modes=("rev",))


@pytest.mark.parametrize("shape", [(2, 5, 7, 2, 8), (1, 33, 17, 1, 64)])
@pytest.mark.parametrize("causal", [False, True])
def test_vjp_matches_numpy_reference(rng, shape, causal):
    q, k, v = _qkv(rng, *shape)
    w = rng.standard_normal(q.shape).astype(np.float32)
    got = grilly.grad(_loss(w, causal), argnums=(0, 1, 2))(q, k, v)
    o = naive_attention(q, k, v, causal).astype(np.float32)
    lse = _lse(q, k, causal)
    want = _flash_bwd_np(q, k, v, o, lse, w, causal=causal, scale=1 / np.sqrt(shape[-1]), has_mask=False)
    for g, r in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), r, atol=1e-4, rtol=1e-3)


def _lse(q, k, causal):
    s = np.einsum("bqhd,bkhd->bhqk", q.astype(np.float64), k.astype(np.float64)) / np.sqrt(q.shape[-1])
    if causal:
        s = np.where(np.arange(s.shape[2])[:, None] >= np.arange(s.shape[3]), s, -np.inf)
    m = s.max(-1, keepdims=True)
    return (np.log(np.exp(s - m).sum(-1)) + m[..., 0]).astype(np.float32)


def test_vmap_matches_loop(rng):
    q, k, v = (rng.standard_normal((3, 1, 4, 2, 5)).astype(np.float32) for _ in range(3))
    mask = rng.random((3, 1, 1, 4, 4)) > 0.2
    f = lambda q, k, v, m: lax.flash_attention(q, k, v, mask=m)  # noqa: E731
    got = np.asarray(grilly.vmap(f)(q, k, v, mask))
    want = np.stack([naive_attention(q[i], k[i], v[i], mask=mask[i]) for i in range(3)])
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-4)
    g = grilly.vmap(grilly.grad(lambda q, k, v: gnp.sum(lax.flash_attention(q, k, v) ** 2)), in_axes=(0, None, 0))
    out = g(q, k[0], v)
    for i in range(3):
        one = grilly.grad(lambda q, vi=v[i]: gnp.sum(lax.flash_attention(q, k[0], vi) ** 2))(q[i])
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(one), atol=1e-5, rtol=1e-4)


def test_bad_operands_raise(rng):
    q, k, v = _qkv(rng, 1, 3, 4, 2, 5)
    with pytest.raises(Exception, match="flash_attention"):
        lax.flash_attention(q, k[..., :4], v)
    with pytest.raises(Exception, match="bool mask"):
        lax.flash_attention(q, k, v, mask=np.ones((3, 4), np.float32))


# ---- softmax and layer_norm ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 7), (2, 3, 1000), (5,)])
def test_softmax_matches_formula(rng, shape):
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(lax.softmax(x)), e / e.sum(-1, keepdims=True), atol=1e-6, rtol=1e-5)
    e0 = np.exp(x - x.max(0, keepdims=True))
    np.testing.assert_allclose(np.asarray(lax.softmax(x, axis=0)), e0 / e0.sum(0, keepdims=True), atol=1e-6,
                               rtol=1e-5)


@pytest.mark.parametrize("shape", [(3, 7), (2, 3, 1000)])
def test_layer_norm_matches_formula(rng, shape):
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    g, b = rng.standard_normal((2, shape[-1])).astype(np.float32)
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    want = (x - mu) / np.sqrt(var + 1e-5) * g + b
    np.testing.assert_allclose(np.asarray(lax.layer_norm(x, g, b)), want, atol=2e-5, rtol=1e-4)


def test_softmax_layer_norm_low_precision(rng):
    x = rng.standard_normal((4, 33)).astype(np.float16)
    e = np.exp(x.astype(np.float32) - x.max(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(lax.softmax(x)).astype(np.float32), e / e.sum(-1, keepdims=True),
                               atol=2e-3, rtol=2e-2)
    xf = x.astype(np.float32)
    want = (xf - xf.mean(-1, keepdims=True)) / np.sqrt(xf.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(np.asarray(lax.layer_norm(x)).astype(np.float32), want, atol=1e-2, rtol=1e-2)


def test_softmax_layer_norm_grads(x64, rng):
    x = rng.standard_normal((3, 5))
    g, b = rng.standard_normal((2, 5))
    check_grads(lambda x: lax.softmax(x) * gnp.arange(5.0), (x,), order=2)
    check_grads(lambda x, g, b: lax.layer_norm(x, g, b) ** 2, (x, g, b), order=2)


def test_softmax_layer_norm_vjp_on_default_backend(rng):
    x = rng.standard_normal((4, 9)).astype(np.float32)
    w = rng.standard_normal((4, 9)).astype(np.float32)
    gamma = rng.standard_normal(9).astype(np.float32)
    gx = np.asarray(grilly.grad(lambda x: gnp.sum(lax.softmax(x) * w))(x))
    y = np.exp(x - x.max(-1, keepdims=True))
    y /= y.sum(-1, keepdims=True)
    np.testing.assert_allclose(gx, y * (w - (w * y).sum(-1, keepdims=True)), atol=1e-5, rtol=1e-4)
    dx, dg = grilly.grad(lambda x, g: gnp.sum(lax.layer_norm(x, g) * w), argnums=(0, 1))(x, gamma)
    xhat = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(np.asarray(dg), (w * xhat).sum(0), atol=1e-4, rtol=1e-4)
    assert np.allclose(np.asarray(dx).sum(-1), 0, atol=1e-4)  # the gradient of a normalised row sums to 0


def test_softmax_layer_norm_vmap(rng):
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    g = rng.standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(grilly.vmap(lax.softmax, in_axes=2, out_axes=2)(x)),
                               np.asarray(lax.softmax(x, axis=1)), atol=1e-6)
    got = np.asarray(grilly.vmap(lambda x, g: lax.layer_norm(x, g))(x, g))
    want = np.stack([np.asarray(lax.layer_norm(x[i], g[i])) for i in range(3)])
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
