"""Elastic weight consolidation: learn task A, then task B, and compare how much of A is forgotten with plain
fine-tuning and with EWC (penalty (lambda/2) sum_i F_i (theta_i - theta_A,i)^2, F the diagonal Fisher on A).

The two tasks are binary classifications of Gaussian inputs around different centres with random decision
directions; one network can solve both (joint training reaches about 95% on each), but plain fine-tuning on B
overwrites what A needed. EWC trades some accuracy on B for much less forgetting of A (larger lambda: less
forgetting, less plasticity).

    python examples/ewc_continual.py
"""

from __future__ import annotations

import argparse

import numpy as np

import grilly
import grilly.numpy as gnp
import grilly.optim as optim
import grilly.random as gr
from grilly import tree
from grilly.learning import EWCState, fisher_diagonal


def make_task(rng: np.random.Generator, n: int, center: np.ndarray, direction: np.ndarray):
    """Gaussian inputs around ``center``, labelled by the side of the hyperplane through it normal to ``direction``."""
    x = rng.normal(size=(n, center.shape[0])).astype(np.float32) + center
    return gnp.asarray(x), gnp.asarray(((x - center) @ direction > 0).astype(np.int32))


def init_mlp(key, sizes):
    keys = gr.split(key, len(sizes) - 1)
    return [{"w": gr.normal(k, (a, b)) / np.sqrt(a), "b": gnp.zeros((b,))} for k, a, b in zip(keys, sizes, sizes[1:])]


def logits_fn(params, x):
    for layer in params[:-1]:
        x = gnp.tanh(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def nll(params, x, y):
    """Mean negative log-likelihood of labels ``y`` (works on one example or a batch)."""
    logits = logits_fn(params, x)
    logp = logits - gnp.logsumexp(logits, axis=-1, keepdims=True)
    return -gnp.mean(gnp.take_along_axis(gnp.atleast_2d(logp), gnp.reshape(y, (-1, 1)), axis=1))


def model_fisher(params, x, n_classes: int):
    """The Fisher ``E_x sum_c p(c|x) (grad log p(c|x))^2``: labels weighted by the model's own predictions.

    (The empirical Fisher, with the training labels, nearly vanishes once the model fits them confidently.)
    Each class's term is a diagonal Fisher of ``sqrt(p(c|x)) * nll``, whose squared gradient carries ``p(c|x)``.
    """
    logits = logits_fn(params, x)
    probs = gnp.exp(logits - gnp.logsumexp(logits, axis=-1, keepdims=True))
    total = None
    for c in range(n_classes):
        labels = gnp.full((x.shape[0],), c, gnp.int32)
        weighted = lambda p, xi, yi, wi: gnp.sqrt(wi) * nll(p, xi, yi)  # noqa: E731
        f = fisher_diagonal(weighted, params, x, labels, probs[:, c])
        total = f if total is None else tree.map(lambda a, b: a + b, total, f)
    return total


def accuracy(params, task) -> float:
    x, y = task
    return float(np.mean(np.asarray(gnp.argmax(logits_fn(params, x), axis=-1)) == np.asarray(y)))


def train(params, task, steps: int, lr: float, ewc: EWCState | None = None):
    """Full-batch Adam (a stiff EWC penalty does not make it diverge, as it can plain gradient descent)."""
    optimizer = optim.adam(lr)

    def loss(p, x, y):
        out = nll(p, x, y)
        return out if ewc is None else out + ewc.penalty(p)

    @grilly.jit
    def step(p, state, x, y):
        updates, state = optimizer.update(grilly.grad(loss)(p, x, y), state, p)
        return optim.apply_updates(p, updates), state

    state = optimizer.init(params)
    for _ in range(steps):
        params, state = step(params, state, *task)
    return params


def run(strength: float = 300.0, steps: int = 300, lr: float = 0.01, seed: int = 0, verbose: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    dim = 8
    u_a, u_b = rng.normal(size=(2, dim)).astype(np.float32)
    center_a, center_b = np.zeros(dim, np.float32), np.full(dim, 1.5, np.float32)
    task_a, task_b = make_task(rng, 512, center_a, u_a), make_task(rng, 512, center_b, u_b)
    test_a, test_b = make_task(rng, 2048, center_a, u_a), make_task(rng, 2048, center_b, u_b)

    params_a = train(init_mlp(gr.PRNGKey(seed), [dim, 32, 2]), task_a, steps, lr)
    fisher = model_fisher(params_a, task_a[0], n_classes=2)
    ewc = EWCState(strength=strength).consolidate(params_a, fisher)

    finetuned = train(params_a, task_b, steps, lr)
    consolidated = train(params_a, task_b, steps, lr, ewc)
    out = {
        "a_after_a": accuracy(params_a, test_a),
        "finetune": (accuracy(finetuned, test_a), accuracy(finetuned, test_b)),
        "ewc": (accuracy(consolidated, test_a), accuracy(consolidated, test_b)),
    }
    if verbose:
        print(f"task A accuracy after training on A: {out['a_after_a']:.3f}")
        print(f"after training on B, plain fine-tuning: A {out['finetune'][0]:.3f}  B {out['finetune'][1]:.3f}")
        print(f"after training on B, EWC (lambda={strength:g}): A {out['ewc'][0]:.3f}  B {out['ewc'][1]:.3f}")
        print(f"forgetting of A: fine-tuning {out['a_after_a'] - out['finetune'][0]:.3f}, "
              f"EWC {out['a_after_a'] - out['ewc'][0]:.3f}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strength", type=float, default=300.0)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    run(args.strength, args.steps)
