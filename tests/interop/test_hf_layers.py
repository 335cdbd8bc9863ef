"""The converted-model building blocks against NumPy formulas, and a BERT built from a NumPy state dict run
under jit (no torch or transformers needed)."""

import math

import numpy as np
import pytest

import grilly
import grilly.numpy as gnp
from grilly import tree
from grilly.utils.huggingface import BertModel, GPT2Model, bert_state_shapes, gpt2_state_shapes, layers


def test_layer_norm_gelu_softmax_match_numpy(rng):
    x = rng.normal(size=(2, 3, 8)).astype(np.float32)
    g, b = rng.normal(size=8).astype(np.float32), rng.normal(size=8).astype(np.float32)
    got = layers.LayerNorm(gnp.asarray(g), gnp.asarray(b), eps=1e-12)(gnp.asarray(x))
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12) * g + b
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(np.asarray(layers.gelu(gnp.asarray(x))), 0.5 * x * (1 + erf(x / np.sqrt(2))),
                               rtol=1e-5, atol=1e-6)
    tanh_gelu = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(np.asarray(layers.gelu_tanh(gnp.asarray(x))), tanh_gelu, rtol=1e-5, atol=1e-6)
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(layers.softmax(gnp.asarray(x))), e / e.sum(-1, keepdims=True),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unsupported activation"):
        layers.activation("mish")


def test_masked_attention_matches_numpy(rng):
    q, k, v = (rng.normal(size=(2, 5, 3, 4)).astype(np.float32) for _ in range(3))
    keep = np.ones((2, 5), bool)
    keep[1, 3:] = False
    out = layers.attention(gnp.asarray(q), gnp.asarray(k), gnp.asarray(v), gnp.asarray(keep)[:, None, None, :])
    s = np.einsum("bqhd,bkhd->bhqk", q, k) / 2.0 + np.where(keep, 0, -1e30)[:, None, None, :]
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    want = np.einsum("bhqk,bkhd->bqhd", p, v).reshape(2, 5, 12)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-5)


def test_pooling_and_normalize(rng):
    h = rng.normal(size=(2, 4, 3)).astype(np.float32)
    m = np.array([[1, 1, 1, 0], [1, 0, 0, 0]])
    got = layers.mean_pooling(gnp.asarray(h), gnp.asarray(m))
    want = (h * m[..., None]).sum(1) / m.sum(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-6)
    n = np.asarray(layers.l2_normalize(got))
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, rtol=1e-6)


def _random_state(shapes, rng):
    return {k: (rng.normal(size=s) * 0.2).astype(np.float32) for k, s in shapes.items()}


def test_bert_from_state_dict_is_a_pytree_and_jits(rng):
    cfg = dict(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
               max_position_embeddings=10, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu")
    model = BertModel.from_state_dict(_random_state(bert_state_shapes(cfg), rng), cfg)
    leaves = tree.leaves(model)
    assert len(leaves) == len(bert_state_shapes(cfg))
    import grilly.nn as nn

    assert isinstance(model, nn.Module) and len(model.parameters()) == len(leaves)
    assert dict(model.named_parameters())["layers.0.query.weight"].shape == (8, 8)
    ids = rng.integers(0, 20, size=(2, 6)).astype(np.int32)
    mask = np.ones((2, 6), np.int32)
    mask[0, 4:] = 0
    eager = model(ids, mask)
    jitted = grilly.jit(lambda m, i, a: m(i, a))(model, ids, mask)
    np.testing.assert_allclose(np.asarray(jitted.last_hidden_state), np.asarray(eager.last_hidden_state),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(jitted.pooler_output), np.asarray(eager.pooler_output), rtol=1e-5,
                               atol=1e-5)
    # padding must not leak into the kept tokens: changing padded ids leaves them unchanged
    ids2 = ids.copy()
    ids2[0, 4:] = (ids2[0, 4:] + 1) % 20
    again = model(ids2, mask).last_hidden_state
    np.testing.assert_allclose(np.asarray(again)[0, :4], np.asarray(eager.last_hidden_state)[0, :4], rtol=1e-5,
                               atol=1e-5)


def test_gpt2_is_causal(rng):
    cfg = dict(vocab_size=15, n_embd=8, n_layer=1, n_head=2, n_positions=8, layer_norm_epsilon=1e-5)
    model = GPT2Model.from_state_dict(_random_state(gpt2_state_shapes(cfg), rng), cfg)
    ids = rng.integers(0, 15, size=(1, 6)).astype(np.int32)
    h = np.asarray(model(ids).last_hidden_state)
    ids2 = ids.copy()
    ids2[0, 4] = (ids2[0, 4] + 3) % 15
    h2 = np.asarray(model(ids2).last_hidden_state)
    np.testing.assert_allclose(h2[0, :4], h[0, :4], rtol=1e-6, atol=1e-6)
    assert np.abs(h2[0, 4:] - h[0, 4:]).max() > 1e-4
