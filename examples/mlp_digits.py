"""Train an MLP on scikit-learn's bundled 8x8 digits (no download) and print the test accuracy.

    python examples/mlp_digits.py          # eager
    python examples/mlp_digits.py --jit    # the same training step compiled with grilly.jit

Needs scikit-learn; tqdm is used for the progress bar when installed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import grilly
import grilly.functional as F
import grilly.nn as nn
import grilly.numpy as gnp
import grilly.optim as optim


def load_digits_split(seed: int = 0, test_fraction: float = 0.2):
    """(x_train, y_train, x_test, y_test): float32 pixels scaled to [0, 1], int32 labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def loss_fn(model: nn.Module, x, y):
    return F.cross_entropy(model(x), y)


def accuracy(model: nn.Module, x, y) -> float:
    predictions = np.asarray(gnp.argmax(model(x), axis=-1))
    return float(np.mean(predictions == y))


def train(epochs: int = 10, batch_size: int = 128, learning_rate: float = 1e-2, use_jit: bool = False,
          seed: int = 0, progress: bool = True) -> float:
    """Train and return the test accuracy."""
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    model = nn.MLP(64, 10, hidden_features=(128,), key=grilly.random.PRNGKey(seed))
    optimizer = optim.adam(learning_rate)
    opt_state = optimizer.init(nn.filter(model))
    step = nn.make_train_step(loss_fn, optimizer, jit=use_jit)
    # whole batches only, so a jitted step sees one input shape
    n_batches = len(x_train) // batch_size
    rng = np.random.default_rng(seed)
    steps = range(epochs * n_batches)
    bar = None
    if progress:
        try:
            from tqdm import tqdm

            steps = bar = tqdm(steps, desc="digits", unit="step")
        except ImportError:
            pass
    order = rng.permutation(len(x_train))
    for i in steps:
        b = i % n_batches
        if b == 0:
            order = rng.permutation(len(x_train))
        idx = order[b * batch_size:(b + 1) * batch_size]
        model, opt_state, loss = step(model, opt_state, gnp.asarray(x_train[idx]), gnp.asarray(y_train[idx]))
        if bar is not None and b == n_batches - 1:
            bar.set_postfix(loss=f"{float(loss):.4f}")
    return accuracy(model, gnp.asarray(x_test), y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jit", action="store_true", help="compile the training step with grilly.jit")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    acc = train(args.epochs, args.batch_size, args.lr, args.jit, args.seed)
    print(f"backend: {grilly.default_backend()}  jit: {args.jit}  "
          f"time: {time.perf_counter() - start:.1f} s")
    print(f"test accuracy: {acc:.4f}")


if __name__ == "__main__":
    main()
