"""Train a CapsuleTransformer on associative recall and print its accuracy.

Each episode shows ``n_pairs`` (key, value) token pairs; the model writes them into its capsule memory. A second
call shows one of the keys alone and the model must answer with its value, which it can only find in the memory
(the query call cannot see the first episode's tokens). Chance is 1 / n_pairs for a model that knows which values
were shown, 1 / n_values otherwise.

    python examples/capsule_recall.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import grilly
import grilly.numpy as gnp
import grilly.optim as optim
from grilly.memory.capsule import CapsuleConfig, CapsuleTransformer


def make_batch(rng: np.random.Generator, batch: int, n_pairs: int, n_keys: int, n_values: int):
    """Context tokens (B, 2 n_pairs): k1 v1 k2 v2 ...; query tokens (B, 1); targets (B,); places (B, 2)."""
    keys = np.stack([rng.choice(n_keys, n_pairs, replace=False) for _ in range(batch)])
    values = n_keys + rng.integers(0, n_values, (batch, n_pairs))
    context = np.stack([keys, values], axis=2).reshape(batch, 2 * n_pairs)
    pick = rng.integers(0, n_pairs, batch)
    rows = np.arange(batch)
    return (context.astype(np.int32), keys[rows, pick][:, None].astype(np.int32),
            values[rows, pick].astype(np.int32), rng.uniform(0, 1, (batch, 2)).astype(np.float32))


def recall_logits(model: CapsuleTransformer, context, query, place):
    _, memory = model(context, place=place)
    logits, _ = model(query, memory, place=place, write=False)
    return logits[:, -1]


def loss_fn(model, context, query, target, place):
    logits = recall_logits(model, context, query, place)
    logp = logits - gnp.logsumexp(logits, axis=-1, keepdims=True)
    return -gnp.mean(gnp.take_along_axis(logp, target[:, None], axis=1))


def make_step(config: CapsuleConfig, optimizer):
    """One jitted optimizer step on the recall loss: ``step(params, opt_state, *batch) -> (loss, params, state)``."""

    def loss_of_params(params, *batch):
        return loss_fn(CapsuleTransformer(config, params), *batch)

    @grilly.jit
    def step(params, opt_state, context, query, target, place):
        loss, grads = grilly.value_and_grad(loss_of_params)(params, context, query, target, place)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return loss, optim.apply_updates(params, updates), opt_state

    return step


def accuracy(model, batch) -> float:
    context, query, target, place = batch
    pred = np.asarray(gnp.argmax(recall_logits(model, gnp.asarray(context), gnp.asarray(query), place), axis=-1))
    return float((pred == target).mean())


def train(steps: int = 200, batch: int = 32, n_pairs: int = 4, n_keys: int = 8, n_values: int = 8,
          lr: float = 3e-3, seed: int = 0, test_size: int = 256, verbose: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    config = CapsuleConfig(vocab_size=n_keys + n_values, d_model=32, n_heads=2, n_layers=1, d_ff=64, d_capsule=32,
                           memory_slots=2 * n_pairs, seed=seed)
    model = CapsuleTransformer(config)
    optimizer = optim.adam(lr)
    step_fn = make_step(config, optimizer)
    params = model.params
    opt_state = optimizer.init(params)
    test = make_batch(np.random.default_rng(seed + 1), test_size, n_pairs, n_keys, n_values)
    start = time.perf_counter()
    before = accuracy(model, test)
    for step in range(steps):
        batch_arrays = [gnp.asarray(a) for a in make_batch(rng, batch, n_pairs, n_keys, n_values)]
        loss, params, opt_state = step_fn(params, opt_state, *batch_arrays)
        if verbose and (step + 1) % 50 == 0:
            print(f"step {step + 1:4d}  loss {float(loss):.3f}")
    model = CapsuleTransformer(config, params)
    after = accuracy(model, test)
    result = {"accuracy_before": before, "accuracy": after, "chance": 1.0 / n_pairs,
              "seconds": time.perf_counter() - start}
    if verbose:
        print(f"recall accuracy: {before:.3f} before training, {after:.3f} after "
              f"(chance {1.0 / n_pairs:.3f} among shown values, {1.0 / n_values:.3f} overall); "
              f"{result['seconds']:.1f} s on the {grilly.default_backend()} backend")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train(args.steps, seed=args.seed)
