"""The classic grilly API: the README's module, functional and optimizer snippets run unmodified, and the
``loss.backward()`` training loop runs on the same tape as ``grilly.grad``."""

from __future__ import annotations

import numpy as np
import pytest

import grilly
import grilly.functional as F
import grilly.nn as nn
import grilly.numpy as gnp
import grilly.optim as optim

# ---- verbatim from the README ("Using High-Level Modules" and the API reference) --------------------------

README_HIGH_LEVEL = '''
import grilly
import numpy as np

# Neural network layer
linear_layer = grilly.nn.Linear(in_features=768, out_features=512)

# Functional operations
x = np.random.randn(32, 768).astype(np.float32)
output = grilly.functional.linear(x, linear_layer.weight, linear_layer.bias)
activated = grilly.functional.relu(output)

# Attention mechanism
attention = grilly.nn.Attention(embed_dim=512, num_heads=8)
attended_output = attention(activated)

print(f"Output shape: {attended_output.shape}")
'''

README_NN = '''
import grilly.nn as nn

# Available layers
linear = nn.Linear(768, 512)
attention = nn.Attention(embed_dim=512, num_heads=8)
norm = nn.LayerNorm(512)
dropout = nn.Dropout(p=0.1)
embedding = nn.Embedding(vocab_size=10000, embedding_dim=768)
'''

README_FUNCTIONAL = '''
import grilly.functional as F

# Activations
y = F.relu(x)
y = F.gelu(x)
y = F.silu(x)

# Linear operations
y = F.linear(x, weight, bias)
y = F.matmul(x, y)

# Normalization
y = F.layer_norm(x, normalized_shape, weight, bias)

# Attention
y = F.flash_attention2(query, key, value)
y = F.attention_scores(query, key)
'''

README_OPTIM = '''
import grilly.optim as optim

# Initialize optimizer
optimizer = optim.Adam(params, lr=1e-3, betas=(0.9, 0.999))
optimizer = optim.SGD(params, lr=0.01, momentum=0.9)
optimizer = optim.NLMS(params, step_size=0.01)
optimizer = optim.NaturalGradient(params, lr=1e-3)

# Training loop
for epoch in range(num_epochs):
    loss = forward_pass(model, data)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
'''


def test_readme_high_level_modules(capsys):
    ns: dict = {}
    exec(README_HIGH_LEVEL, ns)
    assert capsys.readouterr().out.strip() == "Output shape: (32, 512)"
    x, lin = ns["x"], ns["linear_layer"]
    want = np.maximum(x @ np.asarray(lin.weight).T + np.asarray(lin.bias), 0)
    np.testing.assert_allclose(np.asarray(ns["activated"]), want, rtol=1e-4, atol=1e-4)
    assert isinstance(ns["attended_output"], grilly.Array)


def test_readme_nn_layers():
    ns: dict = {}
    exec(README_NN, ns)
    assert ns["linear"].weight.shape == (512, 768)
    assert ns["embedding"].weight.shape == (10000, 768)
    assert ns["norm"].weight.shape == (512,) and ns["dropout"].p == 0.1
    assert ns["attention"].num_heads == 8


def test_readme_functional(rng):
    x = rng.standard_normal((4, 4)).astype(np.float32)
    ns = {"x": x, "weight": rng.standard_normal((4, 4)).astype(np.float32),
          "bias": rng.standard_normal(4).astype(np.float32), "normalized_shape": (4,),
          "query": rng.standard_normal((2, 5, 2, 8)).astype(np.float32),
          "key": rng.standard_normal((2, 5, 2, 8)).astype(np.float32),
          "value": rng.standard_normal((2, 5, 2, 8)).astype(np.float32)}
    exec(README_FUNCTIONAL, ns)
    assert ns["y"].shape == (2, 2, 5, 5)  # (batch, seq, heads, dim) -> (batch, heads, seq_q, seq_k)
    q, k = ns["query"], ns["key"]
    np.testing.assert_allclose(np.asarray(ns["y"]), np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(8), rtol=1e-5,
                               atol=1e-5)


def test_readme_optim_training_loop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    model = nn.Linear(3, 1, key=grilly.random.PRNGKey(0))

    def forward_pass(model, data):
        inputs, targets = data
        return nn.compute_loss(lambda m: F.mse_loss(m(inputs), targets), model)

    ns = {"params": model.parameters(), "model": model, "data": (x, y), "num_epochs": 20,
          "forward_pass": forward_pass}
    before = float(forward_pass(model, (x, y)))
    exec(README_OPTIM, ns)
    assert isinstance(ns["optimizer"], optim.NaturalGradient)
    assert float(forward_pass(model, (x, y))) < before  # the model object itself was updated


def test_classic_loop_matches_functional_adam():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 8)
    classic = nn.MLP(4, 3, hidden_features=5, key=grilly.random.PRNGKey(2))
    functional = nn.MLP(4, 3, hidden_features=5, key=grilly.random.PRNGKey(2))
    submodule = classic.layers[0]

    def loss_fn(m):
        return F.cross_entropy(m(x), labels)

    optimizer = optim.Adam(classic.parameters(), lr=0.05)
    opt = optim.adam(0.05)
    state = opt.init(nn.filter(functional))
    for _ in range(5):
        loss = nn.compute_loss(loss_fn, classic)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        value, grads = grilly.value_and_grad(loss_fn)(functional)
        updates, state = opt.update(grads, state, functional)
        functional = optim.apply_updates(functional, updates)
        np.testing.assert_allclose(float(loss), float(value), rtol=1e-6)
    for a, b in zip(classic.parameters(), functional.parameters()):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert submodule.weight is classic.layers[0].weight  # references to submodules see the updates


def test_backward_accumulates_until_zero_grad():
    model = nn.Linear(2, 1, key=grilly.random.PRNGKey(0))
    x = np.ones((1, 2), np.float32)
    loss = nn.compute_loss(lambda m: gnp.sum(m(x)), model)
    loss.backward()
    loss.backward()  # gradients accumulate, as in PyTorch
    np.testing.assert_allclose(np.asarray(nn.grads_of(model).grads.weight), 2 * np.ones((1, 2)))
    model.zero_grad()
    assert nn.grads_of(model).grads is None
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="backward"):
        optimizer.step()


def test_step_with_explicit_grads_and_plain_lists():
    w = gnp.asarray([1.0, 2.0])
    params = [w]
    optimizer = optim.SGD(params, lr=0.5, momentum=0.9)
    optimizer.step([gnp.asarray([1.0, 1.0])])
    optimizer.step([gnp.asarray([1.0, 1.0])])
    np.testing.assert_allclose(np.asarray(params[0]), [1.0 - 0.5 - 0.95, 2.0 - 0.5 - 0.95], rtol=1e-6)
    assert np.asarray(w).tolist() == [1.0, 2.0]  # arrays are immutable; the list holds the new ones
    model = nn.Linear(2, 2, key=grilly.random.PRNGKey(0))
    grads = grilly.grad(lambda m: gnp.sum(m(np.ones((1, 2), np.float32))))(model)
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    w0 = np.asarray(model.weight)
    optimizer.step(grads)  # a model-shaped gradient
    np.testing.assert_allclose(np.asarray(model.weight), w0 - 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="gradients"):
        optimizer.step([gnp.zeros(2)])
    with pytest.raises(ValueError, match="step"):
        optim.SGD([gnp.zeros(2)], lr=0.1).step()


def test_integer_buffers_are_not_trained():
    class Counted(nn.Module):
        linear: nn.Linear
        calls: object  # an int32 buffer: carried along, never differentiated

        def __call__(self, x, *, key=None):
            return self.linear(x)

    x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    model = Counted(nn.Linear(2, 1, key=grilly.random.PRNGKey(0)), gnp.asarray(np.int32(3)))
    assert len(model.parameters()) == 2
    opt = optim.sgd(0.1)
    step = nn.make_train_step(lambda m, x, y: F.mse_loss(m(x), y), opt, jit=True)
    state = opt.init(nn.filter(model))
    for _ in range(30):
        model, state, loss = step(model, state, x, y)
    assert float(loss) < 1e-3 and int(model.calls) == 3 and model.calls.dtype == np.int32
    classic = Counted(nn.Linear(2, 1, key=grilly.random.PRNGKey(0)), gnp.asarray(np.int32(3)))
    optimizer = optim.SGD(classic.parameters(), lr=0.1)
    for _ in range(30):
        nn.compute_loss(lambda m: F.mse_loss(m(x), y), classic).backward()
        optimizer.step()
        optimizer.zero_grad()
    np.testing.assert_allclose(np.asarray(classic.linear.weight), np.asarray(model.linear.weight), rtol=1e-5,
                               atol=1e-6)
    assert int(classic.calls) == 3
