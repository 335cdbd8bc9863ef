"""grilly.nn modules: pytree round trips, transforms over modules, layers against NumPy formulas,
train/eval copies, partition/combine, and checkpoints."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

import grilly
import grilly.functional as F
import grilly.nn as nn
import grilly.numpy as gnp
import grilly.random as gr
from grilly import tree
from grilly.utils import checkpoint


def _models():
    key = gr.PRNGKey(0)
    return {
        "linear": (nn.Linear(5, 3, key=key), (2, 5)),
        "embedding": (nn.Embedding(7, 4, key=key), None),
        "layernorm": (nn.LayerNorm(5), (2, 5)),
        "rmsnorm": (nn.RMSNorm(5), (2, 5)),
        "attention": (nn.Attention(embed_dim=8, num_heads=2, key=key), (2, 3, 8)),
        "conv1d": (nn.Conv1d(2, 3, 3, padding=1, key=key), (2, 2, 6)),
        "conv2d": (nn.Conv2d(2, 3, 3, stride=2, key=key), (1, 2, 6, 6)),
        "sequential": (nn.Sequential(nn.Linear(5, 4, key=key), nn.ReLU(), F.tanh, nn.Linear(4, 2, key=key)),
                       (3, 5)),
        "mlp": (nn.MLP(5, 2, hidden_features=(6, 4), key=key), (3, 5)),
        "encoder": (nn.TransformerEncoderLayer(8, 2, 16, key=key).eval(), (2, 3, 8)),
    }


MODELS = list(_models())


def _input(name, shape, rng):
    if shape is None:
        return np.array([[1, 6], [0, 2]])
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("name", MODELS)
def test_pytree_round_trip_and_call(name, rng):
    model, shape = _models()[name]
    leaves, treedef = tree.flatten(model)
    assert leaves and all(isinstance(x, grilly.Array) for x in leaves)
    rebuilt = tree.unflatten(treedef, leaves)
    assert type(rebuilt) is type(model) and tree.structure(rebuilt) == treedef
    x = _input(name, shape, rng)
    np.testing.assert_array_equal(np.asarray(rebuilt(x)), np.asarray(model(x)))
    doubled = tree.map(lambda a: a * 2, model)
    assert all(np.allclose(np.asarray(a) * 2, np.asarray(b)) for a, b in zip(leaves, tree.leaves(doubled)))
    assert len(model.parameters()) == len([a for a in leaves if a.dtype.kind == "f"])


@pytest.mark.parametrize("name", MODELS)
def test_grad_and_jit_over_modules(name, rng):
    model, shape = _models()[name]
    x = _input(name, shape, rng)

    def loss(m):
        return gnp.sum(m(x) ** 2)

    grads = grilly.grad(loss)(model)
    assert type(grads) is type(model)
    assert tree.structure(grads) == tree.structure(model)
    np.testing.assert_allclose(float(grilly.jit(loss)(model)), float(loss(model)), rtol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip(name, rng, tmp_path):
    model, shape = _models()[name]
    path = tmp_path / f"{name}.ckpt"
    checkpoint.save(path, model)
    fresh = tree.map(gnp.zeros_like, model)
    restored = checkpoint.load(path, like=fresh)
    assert tree.structure(restored) == tree.structure(model)
    for a, b in zip(tree.leaves(restored), tree.leaves(model)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.dtype == b.dtype
    flat = checkpoint.load(path)
    assert sorted(flat) == sorted(n for n, _ in model.named_parameters())


def test_checkpoint_formats_and_errors(tmp_path):
    state = {"w": gnp.arange(6.0).reshape(2, 3), "step": gnp.asarray(np.int32(7)), "lr": 0.5,
             "half": gnp.asarray(np.ones(3), gnp.bfloat16)}
    for name in ("a.npz", "b.safetensors", "c.bin"):
        if name.endswith(".safetensors"):
            pytest.importorskip("safetensors")
        checkpoint.save(tmp_path / name, state)
        assert (tmp_path / name).exists()
        back = checkpoint.load(tmp_path / name, like=state)
        np.testing.assert_array_equal(np.asarray(back["w"]), np.asarray(state["w"]))
        assert back["step"].dtype == np.int32 and int(back["step"]) == 7 and back["lr"] == 0.5
        assert back["half"].dtype == gnp.bfloat16
    with pytest.raises(KeyError, match="missing"):
        checkpoint.load(tmp_path / "a.npz", like={"other": gnp.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        checkpoint.load(tmp_path / "a.npz", like={**state, "w": gnp.zeros((3, 2))})


def test_linear_matches_formula_and_torch_init_bounds():
    m = nn.Linear(16, 4, key=gr.PRNGKey(1))
    w, b = np.asarray(m.weight), np.asarray(m.bias)
    assert w.shape == (4, 16) and b.shape == (4,)
    assert np.abs(w).max() <= 0.25 and np.abs(b).max() <= 0.25 and w.std() > 0.05
    x = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(m(x)), x @ w.T + b, rtol=1e-5, atol=1e-5)
    assert nn.Linear(16, 4, bias=False).bias is None


def test_default_key_sequence():
    nn.manual_seed(5)
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    nn.manual_seed(5)
    a2 = nn.Linear(3, 3)
    np.testing.assert_array_equal(np.asarray(a.weight), np.asarray(a2.weight))
    assert not np.array_equal(np.asarray(a.weight), np.asarray(b.weight))


def test_modules_are_immutable():
    m = nn.Linear(2, 2)
    with pytest.raises(dataclasses.FrozenInstanceError, match="immutable"):
        m.weight = gnp.zeros((2, 2))
    m2 = m.replace(bias=gnp.zeros(2))
    assert np.asarray(m2.bias).tolist() == [0.0, 0.0] and np.asarray(m.bias).any()
    m3 = nn.tree_at(lambda t: t.weight, m, gnp.ones((2, 2)))
    assert np.asarray(m3.weight).sum() == 4


def test_custom_module_declares_fields():
    class Affine(nn.Module):
        scale: Any
        shift: Any
        name: str = nn.static(default="affine")

        def __call__(self, x, *, key=None):
            return self.scale * x + self.shift

    m = Affine(gnp.asarray(2.0), gnp.asarray(1.0))
    assert float(m(3.0)) == 7.0
    assert len(tree.leaves(m)) == 2 and tree.structure(m) != tree.structure(Affine(1.0, 1.0, name="other"))
    g = grilly.grad(lambda m: m(3.0))(m)
    assert float(g.scale) == 3.0 and float(g.shift) == 1.0

    class Bad(nn.Module):
        w: Any

        def __init__(self):
            self.w = gnp.zeros(2)
            self.undeclared = 1

    with pytest.raises(TypeError, match="undeclared"):
        Bad()

    class Sub(nn.Linear):  # an inherited custom __init__ is kept
        pass

    assert Sub(3, 2).weight.shape == (2, 3)


def test_train_eval_copies_and_dropout():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(p=0.5))
    assert model[1].training
    ev = model.eval()
    assert not ev[1].training and model[1].training  # a copy; the original is unchanged
    assert ev.train()[1].training
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(np.asarray(ev(x)), np.asarray(model[0](x)))
    with pytest.raises(ValueError, match="PRNG key"):
        model(x)
    y = np.asarray(model(x, key=gr.PRNGKey(0)))
    assert (y == 0).any()
    assert tree.structure(ev) != tree.structure(model)  # the mode is static: jit retraces once per mode


def test_partition_combine():
    model = nn.MLP(3, 2, hidden_features=4, key=gr.PRNGKey(0))
    frozen_first = tree.map(lambda _: False, model)
    frozen_first = nn.tree_at(lambda m: m.layers[1], frozen_first,
                              tree.map(lambda _: True, model.layers[1]))
    trainable, frozen = nn.partition(model, frozen_first)
    assert len(tree.leaves(trainable)) == 2 and len(tree.leaves(frozen)) == 2
    merged = nn.combine(trainable, frozen)
    for a, b in zip(tree.leaves(merged), tree.leaves(model)):
        assert a is b
    x = np.ones((1, 3), np.float32)
    grads = grilly.grad(lambda t: gnp.sum(nn.combine(t, frozen)(x)))(trainable)
    assert grads.layers[0].weight is None and grads.layers[1].weight.shape == (2, 4)
    params, rest = nn.partition(model)  # the default filter: float arrays
    assert tree.leaves(rest) == [] and len(tree.leaves(params)) == 4


def test_module_layers_against_functional(rng):
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    attn = nn.MultiHeadAttention(8, 2, key=gr.PRNGKey(0))
    p = (attn.q_proj, attn.k_proj, attn.v_proj, attn.out_proj)
    want = F.multi_head_attention(x, x, x, 2, *(m.weight for m in p), *(m.bias for m in p), causal=True)
    np.testing.assert_allclose(np.asarray(attn(x, causal=True)), np.asarray(want), rtol=1e-5, atol=1e-6)
    y = rng.standard_normal((2, 5, 8)).astype(np.float32)
    assert attn(x, y, y).shape == (2, 3, 8)  # cross-attention
    enc = nn.TransformerEncoderLayer(8, 2, 16, key=gr.PRNGKey(1)).eval()
    h = enc.norm1(x + enc.self_attn(x))
    want = enc.norm2(h + enc.linear2(F.relu(enc.linear1(h))))
    np.testing.assert_allclose(np.asarray(enc(x)), np.asarray(want), rtol=1e-5, atol=1e-5)
    pre = nn.TransformerEncoderLayer(8, 2, 16, norm_first=True, key=gr.PRNGKey(1))
    assert pre(x, key=gr.PRNGKey(2)).shape == x.shape
    pool = nn.MaxPool2d(2)
    img = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(pool(img)), np.asarray(F.max_pool2d(img, 2)))
    assert nn.Flatten()(img).shape == (1, 32)


def test_vmap_over_module_inputs(rng):
    m = nn.Linear(4, 3, key=gr.PRNGKey(0))
    xs = rng.standard_normal((5, 4)).astype(np.float32)
    out = grilly.vmap(lambda x: m(x))(xs)
    np.testing.assert_allclose(np.asarray(out), np.asarray(m(xs)), rtol=1e-5, atol=1e-6)
