"""grilly.functional activations, linear maps, normalization, dropout and losses against NumPy formulas, with
finite-difference gradient checks in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest

import grilly
import grilly.functional as F
import grilly.numpy as gnp
import grilly.random as gr
from grilly.test_util import check_grads

_erf = np.vectorize(math.erf)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    s = x - x.max(axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis, keepdims=True))


ACTIVATIONS = [  # (name, grilly fn, NumPy formula)
    ("relu", F.relu, lambda x: np.maximum(x, 0)),
    ("relu6", F.relu6, lambda x: np.clip(x, 0, 6)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda x: np.where(x >= 0, x, 0.1 * x)),
    ("elu", F.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    ("gelu", F.gelu, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    ("silu", F.silu, lambda x: x / (1 + np.exp(-x))),
    ("sigmoid", F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    ("log_sigmoid", F.log_sigmoid, lambda x: -np.log1p(np.exp(-x))),
    ("tanh", F.tanh, np.tanh),
    ("softplus", F.softplus, lambda x: np.log1p(np.exp(x))),
    ("softplus_beta", lambda x: F.softplus(x, beta=2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    ("softmax", F.softmax, np_softmax),
    ("softmax_axis0", lambda x: F.softmax(x, axis=0), lambda x: np_softmax(x, 0)),
    ("log_softmax", F.log_softmax, np_log_softmax),
]


@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_forward(name, fn, ref, rng):
    x = (rng.standard_normal((3, 7)) * 3).astype(np.float32)
    np.testing.assert_allclose(np.asarray(fn(x)), ref(x.astype(np.float64)), rtol=2e-5, atol=2e-6)
    assert isinstance(fn(gnp.asarray(x)), grilly.Array)  # grilly in, grilly out (NumPy in as well)


@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_grads(name, fn, ref, rng, x64):
    x = rng.standard_normal((2, 5)) * 2
    x = np.where(np.abs(x) < 0.05, 0.3, x)  # keep away from the kinks of relu-like functions
    check_grads(fn, (x,), order=1 if name.startswith(("relu", "leaky", "elu")) else 2)


def test_softplus_does_not_overflow():
    y = np.asarray(F.softplus(np.array([-200.0, 200.0], np.float32)))
    np.testing.assert_allclose(y, [0.0, 200.0], atol=1e-6)


def test_linear_and_matmul(rng):
    x, w, b = rng.standard_normal((2, 3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)
    x, w, b = (a.astype(np.float32) for a in (x, w, b))
    np.testing.assert_allclose(np.asarray(F.linear(x, w, b)), x @ w.T + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(F.linear(x, w)), x @ w.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(F.matmul(x, w.T)), x @ w.T, rtol=1e-5, atol=1e-5)
    with pytest.raises(grilly.ShapeError, match="features"):
        F.linear(x, w.T)


def test_linear_grads(rng, x64):
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)
    check_grads(F.linear, (x, w, b), order=2)
    check_grads(F.matmul, (x, w.T), order=1)


def test_embedding_and_one_hot(rng):
    table = rng.standard_normal((6, 3)).astype(np.float32)
    ids = np.array([[5, 0], [2, 2]])
    np.testing.assert_array_equal(np.asarray(F.embedding(ids, table)), table[ids])
    np.testing.assert_array_equal(np.asarray(F.one_hot(np.array([0, 3, 1]), 4)), np.eye(4)[[0, 3, 1]])
    with pytest.raises(TypeError, match="integers"):
        F.embedding(np.array([0.5]), table)


def test_embedding_grad(rng, x64):
    ids = np.array([1, 3, 1])
    check_grads(lambda t: F.embedding(ids, t), (rng.standard_normal((4, 2)),), order=1)


def np_layer_norm(x, axes, w=None, b=None, eps=1e-5):
    mu = x.mean(axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def test_layer_norm(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float64)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    got = F.layer_norm(x.astype(np.float32), (4,), w.astype(np.float32), b.astype(np.float32))
    np.testing.assert_allclose(np.asarray(got), np_layer_norm(x, (2,), w, b), rtol=1e-4, atol=1e-5)
    w2 = rng.standard_normal((3, 4))  # normalized over the last two dims (the composed path)
    got = F.layer_norm(x.astype(np.float32), (3, 4), w2.astype(np.float32))
    np.testing.assert_allclose(np.asarray(got), np_layer_norm(x, (1, 2), w2), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(x, (5,))


def test_rms_norm(rng):
    x, w = rng.standard_normal((3, 6)), rng.standard_normal(6)
    want = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6) * w
    got = F.rms_norm(x.astype(np.float32), 6, w.astype(np.float32))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_norm_grads(rng, x64):
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    # the last-axis layer norm is one fused primitive with a VJP rule (no JVP): reverse mode only
    check_grads(lambda x, w, b: F.layer_norm(x, 4, w, b), (x, w, b), order=1, modes=("rev",))
    check_grads(lambda x, w: F.layer_norm(x, (3, 4), w), (x, rng.standard_normal((3, 4))), order=2)
    check_grads(lambda x, w: F.rms_norm(x, None, w), (x, w), order=2)


def test_dropout(rng):
    x = np.ones((200, 50), np.float32)
    key = gr.PRNGKey(3)
    y = np.asarray(F.dropout(x, 0.3, key))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.3, key)), y)  # the key alone decides
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.3, training=False)), x)
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.3, deterministic=True)), x)
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 1.0, key)), 0 * x)
    with pytest.raises(ValueError, match="PRNG key"):
        F.dropout(x, 0.3)


def test_dropout_grad(rng, x64):
    key = gr.PRNGKey(1)
    check_grads(lambda x: F.dropout(x, 0.5, key), (rng.standard_normal((4, 4)),), order=2)


# ---- losses -----------------------------------------------------------------------------------------------


def test_cross_entropy(rng):
    logits = rng.standard_normal((5, 4))
    target = np.array([0, 3, 1, 1, 2])
    logp = np_log_softmax(logits)
    nll = -logp[np.arange(5), target]
    lg = logits.astype(np.float32)
    np.testing.assert_allclose(float(F.cross_entropy(lg, target)), nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(F.cross_entropy(lg, target, reduction="sum")), nll.sum(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(F.cross_entropy(lg, target, reduction="none")), nll, rtol=1e-5)
    smooth = (0.9 * nll - 0.1 * logp.mean(-1)).mean()  # PyTorch's label smoothing
    np.testing.assert_allclose(float(F.cross_entropy(lg, target, label_smoothing=0.1)), smooth, rtol=1e-5)
    probs = np_softmax(rng.standard_normal((5, 4)))
    np.testing.assert_allclose(float(F.cross_entropy(lg, probs.astype(np.float32))),
                               -(probs * logp).sum(-1).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(F.nll_loss(logp.astype(np.float32), target)), nll.mean(), rtol=1e-5)
    with pytest.raises(grilly.ShapeError):
        F.cross_entropy(lg, target[:3])


def test_regression_and_binary_losses(rng):
    p, t = rng.standard_normal(6), rng.standard_normal(6)
    f32 = np.float32
    np.testing.assert_allclose(float(F.mse_loss(p.astype(f32), t.astype(f32))), ((p - t) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(F.l1_loss(p.astype(f32), t.astype(f32))), np.abs(p - t).mean(), rtol=1e-5)
    logits, labels = rng.standard_normal(6), (rng.random(6) > 0.5).astype(np.float64)
    prob = 1 / (1 + np.exp(-logits))
    bce = -(labels * np.log(prob) + (1 - labels) * np.log(1 - prob))
    np.testing.assert_allclose(float(F.binary_cross_entropy(prob.astype(f32), labels.astype(f32))), bce.mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(float(F.binary_cross_entropy_with_logits(logits.astype(f32), labels.astype(f32))),
                               bce.mean(), rtol=1e-5)
    assert np.isfinite(float(F.binary_cross_entropy(np.array([0.0, 1.0], f32), np.array([1.0, 0.0], f32))))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(p, t, reduction="avg")


def test_loss_grads(rng, x64):
    logits, target = rng.standard_normal((4, 3)), np.array([2, 0, 1, 1])
    probs = np_softmax(rng.standard_normal((4, 3)))
    check_grads(lambda z: F.cross_entropy(z, target, label_smoothing=0.1), (logits,), order=2)
    check_grads(lambda z: F.cross_entropy(z, probs), (logits,), order=1)
    check_grads(F.mse_loss, (rng.standard_normal(5), rng.standard_normal(5)), order=2)
    labels = (rng.random(5) > 0.5).astype(np.float64)
    check_grads(lambda z: F.binary_cross_entropy_with_logits(z, labels), (rng.standard_normal(5),), order=2)
    check_grads(lambda p: F.binary_cross_entropy(p, labels), (rng.uniform(0.2, 0.8, 5),), order=1)
    check_grads(lambda lp: F.nll_loss(lp, target), (logits,), order=1)
    check_grads(F.l1_loss, (rng.standard_normal(5), rng.standard_normal(5) + 3.0), order=1)
